/**
 * Crash safety: a real worker host process (`node host/main.ts`, FERRY_ROLE=worker) is killed
 * with SIGKILL in the middle of a slow run. Another worker's scheduler finds the run by its
 * stale heartbeat and fails it as WORKER_LOST; no batch is half-written; lastSyncDate does not
 * move; the retry, in the surviving host, resumes from the checkpoint and completes the data.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { readAll, TEST_SECRET_KEY, waitFor, waitForRun, type ApiClient } from '../helpers/ferry.ts';
import { startMultiHost, type MultiHost, type WorkerProcess } from '../helpers/multi-host.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const PAGE = 5; // the `people` fixture saves pages of 5 and checkpoints after each

let cluster: MultiHost;
let db: TestDatabase;
let provider: ItemsProvider;
let api: ApiClient;
let worker: WorkerProcess;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  // The API alone here: until the worker process is killed, it is the only process running syncs.
  cluster = await startMultiHost();
  ({ db, api } = cluster);
  await deployScripts({ dir: FIXTURES, url: cluster.url, key: TEST_SECRET_KEY });
  expect((await api.put('/providers/fullp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  worker = cluster.spawnWorker();
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await provider?.close();
});

test('a worker killed mid-run: the run fails as WORKER_LOST, no batch is half-written, lastSyncDate stays, the retry elsewhere completes the data', async () => {
  expect((await api.post('/connections', { connection_id: 'crash-1', provider: 'fullp' })).status).toBe(201);
  const first = await waitForRun(api, 'crash-1', 'people', '0', 60_000);
  expect(first.status).toBe('succeeded');
  const [before] = await db.sql<{ last_sync_date: Date; id: string }[]>`
    select s.last_sync_date, c.id from sync_state s join connections c on c.id = s.connection_id where c.connection_id = 'crash-1'`;
  expect(before!.last_sync_date).not.toBeNull();

  // Every item renamed, and each page slow: the run saves page 1, checkpoints, then waits on page 2.
  for (const id of provider.items.keys()) provider.put(id, `renamed ${id}`);
  provider.delayMs = 1_500;
  expect((await api.post('/syncs/people/trigger', { connection_id: 'crash-1' })).status).toBeLessThan(300);
  const running = await waitFor('the run to save its first page', async () => {
    const [row] = await db.sql<{ id: string; updated: number }[]>`
      select r.id, r.updated from runs r join sync_state s on s.connection_id = r.connection_id and s.sync_name = r.script_name
      where r.connection_id = ${before!.id} and r.status = 'running' and s.checkpoint is not null`;
    return row;
  }, 60_000);
  await worker.kill();
  expect(worker.child.signalCode).toBe('SIGKILL');

  // Nothing half-written: the renamed records are whole pages, and the run's counts agree with them.
  const renamedAfterKill = (await readAll(api, 'crash-1', 'Item')).records.filter((r) => r.name.startsWith('renamed')).map((r) => r.id).sort();
  expect(renamedAfterKill.length % PAGE === 0 || renamedAfterKill.length === 12).toBe(true);
  expect(renamedAfterKill).toEqual([...provider.items.keys()].sort().slice(0, renamedAfterKill.length));
  expect(renamedAfterKill.length).toBeGreaterThan(0);
  const [killed] = await db.sql<{ status: string; updated: number }[]>`select status, updated from runs where id = ${running.id}`;
  expect(killed).toMatchObject({ status: 'running', updated: renamedAfterKill.length });

  // A surviving worker host: its scheduler finds the stale run and the retry resumes there.
  provider.delayMs = 0;
  const requestsBefore = provider.requests.length;
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '2' });
  const lost = await waitFor('the killed run to be failed', async () => {
    const [row] = await db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${running.id}`;
    return row?.status === 'failed' ? row : undefined;
  }, 60_000);
  expect(lost.error?.code).toBe('WORKER_LOST');
  const [afterLost] = await db.sql<{ last_sync_date: Date }[]>`select last_sync_date from sync_state where connection_id = ${before!.id}`;
  expect(afterLost!.last_sync_date.toISOString()).toBe(before!.last_sync_date.toISOString());

  const retry = await waitForRun(api, 'crash-1', 'people', running.id, 60_000);
  expect(retry).toMatchObject({ status: 'succeeded' });
  const [retryRow] = await db.sql<{ resumed: boolean; started_at: Date }[]>`select resumed, started_at from runs where id = ${retry.id}`;
  expect(retryRow!.resumed).toBe(true);
  // It continued from the checkpoint the killed run saved, not from the first page.
  const firstAfter = provider.requests.slice(requestsBefore).find((r) => r.path === '/items');
  expect(firstAfter?.query.after).not.toBe('');

  const all = (await readAll(api, 'crash-1', 'Item')).records;
  expect(all).toHaveLength(12);
  expect(all.every((r) => r.name === `renamed ${r.id}` && r._ferry_metadata.deleted_at === null)).toBe(true);
  // lastSyncDate moves only now, to the start of the pass the killed run began.
  const [after] = await db.sql<{ last_sync_date: Date; checkpoint: unknown }[]>`select last_sync_date, checkpoint from sync_state where connection_id = ${before!.id}`;
  expect(after!.checkpoint).toBeNull();
  expect(after!.last_sync_date.getTime()).toBeGreaterThan(before!.last_sync_date.getTime());
  expect(after!.last_sync_date.getTime()).toBeLessThan(retryRow!.started_at.getTime());
}, 180_000);
