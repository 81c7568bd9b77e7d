/**
 * The fencing tests' scene: a worker host process to freeze mid-run (SIGSTOP) on a cluster of its
 * own (test/helpers/multi-host.ts), a provider's sync deployed, and a connection whose first run
 * has succeeded; then, with the worker frozen, another worker that fails the frozen run as
 * WORKER_LOST past the stale-run limit and runs its retry.
 */
import { expect } from 'vitest';
import { deploySources, waitFor, waitForRun } from '../helpers/ferry.ts';
import { startMultiHost, type MultiHost, type WorkerProcess } from '../helpers/multi-host.ts';
import type { ItemsProvider } from './items-provider.ts';

export interface FreezeScene {
  cluster: MultiHost;
  /** The worker to freeze: the only one running until loseFrozenRun starts another. */
  worker: WorkerProcess;
  /** What the worker logged (warnings and above). */
  output(): string;
  /** The connection's internal id. */
  connectionId: string;
  /** The connection's first run, succeeded. */
  first: { id: string; status: string; counts?: unknown };
}

/** `source` deployed as `<provider>/syncs/<sync>.ts` and pointed at `items`, then connection `connection` and its first run. */
export async function freezeScene(onTestFinished: (fn: () => Promise<void>) => void, items: ItemsProvider, setup: { provider: string; sync: string; source: string; connection: string }): Promise<FreezeScene> {
  const cluster = await startMultiHost();
  onTestFinished(() => cluster.close());
  const { db, api } = cluster;
  await deploySources(cluster, { [`${setup.provider}/syncs/${setup.sync}.ts`]: setup.source });
  expect((await api.put(`/providers/${setup.provider}`, { base_url: items.url, auth: { type: 'none' } })).status).toBe(200);
  // Its warnings are read to see that the woken process really tried to write, and gave the run up.
  let output = '';
  const worker = cluster.spawnWorker({ FERRY_LOG_LEVEL: 'warn' }, (chunk) => (output += chunk));
  expect((await api.post('/connections', { connection_id: setup.connection, provider: setup.provider })).status).toBe(201);
  const first = await waitForRun(api, setup.connection, setup.sync, '0', 60_000);
  expect(first.status).toBe('succeeded');
  const [row] = await db.sql<{ id: string }[]>`select id from connections where connection_id = ${setup.connection}`;
  return { cluster, worker, output: () => output, connectionId: row!.id, first };
}

/** With the scene's worker frozen: another worker fails run `frozenId` as WORKER_LOST, and its retry succeeds. */
export async function loseFrozenRun(scene: FreezeScene, setup: { connection: string; sync: string }, frozenId: string): Promise<void> {
  const { cluster } = scene;
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '2' });
  const lost = await waitFor('the frozen run to be failed', async () => {
    const [row] = await cluster.db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${frozenId}`;
    return row?.status === 'failed' ? row : undefined;
  }, 60_000);
  expect(lost.error?.code).toBe('WORKER_LOST');
  const newer = await waitForRun(cluster.api, setup.connection, setup.sync, frozenId, 60_000);
  expect(newer.status).toBe('succeeded');
}

/** Waits for the woken worker to log `line`; on a timeout, says what it did log. */
export async function wokenWorkerLogs(scene: FreezeScene, what: string, line: string, timeoutMs: number): Promise<void> {
  await waitFor(what, async () => (scene.output().includes(line) ? true : undefined), timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}; the worker logged: ${scene.output().slice(-4000)}`);
  });
}
