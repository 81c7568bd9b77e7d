/**
 * A real worker host (`node host/main.ts`, FERRY_ROLE=worker) killed with SIGKILL in the middle of
 * a batch's transaction, after the batch's records are written and before it commits: the test
 * holds an uncommitted sync_seen row under a key the first batch records (a trackDeletes sync
 * records the ids it saw in the batch's transaction, after its records), so the batch waits there
 * with its rows written. Once the
 * process is gone and the lock released, its backend finds no client to commit for: not one
 * record of the batch becomes visible, the run's counts stay, and the retry on a surviving host
 * writes every record. crash.test.ts kills between batches; this kills inside one.
 */
import { fileURLToPath } from 'node:url';
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { idForThisAttempt, readAll, TEST_SECRET_KEY, waitFor, waitForRun, type ApiClient } from '../helpers/ferry.ts';
import { whileHolding, type Control } from '../helpers/lost-database.ts';
import { startMultiHost, type MultiHost } from '../helpers/multi-host.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

let cluster: MultiHost;
let db: TestDatabase;
let provider: ItemsProvider;
let api: ApiClient;
let control: Control;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  cluster = await startMultiHost();
  ({ db, api } = cluster);
  control = postgres(db.url, { max: 2, onnotice: () => {}, connection: { application_name: 'killed-mid-batch-test' } });
  await deployScripts({ dir: FIXTURES, url: cluster.url, key: TEST_SECRET_KEY });
  expect((await api.put('/providers/fullp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await control?.end({ timeout: 5 });
  await cluster?.close();
  await provider?.close();
});

test('a worker killed inside a batch transaction: none of its records appear, the retry elsewhere writes them all', async () => {
  const connectionId = idForThisAttempt('mid-batch');
  const worker = cluster.spawnWorker();
  let survivor: Awaited<ReturnType<MultiHost['start']>> | null = null;
  try {
    expect((await api.post('/connections', { connection_id: connectionId, provider: 'fullp' })).status).toBe(201);
    const first = await waitForRun(api, connectionId, 'people', '0', 60_000);
    expect(first.status).toBe('succeeded');
    for (const id of provider.items.keys()) provider.put(id, `renamed ${id}`);

    const [conn] = await control<{ id: string }[]>`select id::text from connections where connection_id = ${connectionId}`;
    // An uncommitted row under the key the first batch will record: its insert waits on this transaction.
    const holdSeen = (hold: Parameters<Parameters<typeof whileHolding>[1]>[0]) =>
      hold`insert into sync_seen (connection_id, sync_name, scope, model, id) values (${conn!.id}, 'people', 'full', 'Item', '001')`;
    const { running, orphan } = await whileHolding(control, holdSeen, async () => {
      expect((await api.post('/syncs/people/trigger', { connection_id: connectionId })).status).toBeLessThan(300);
      const orphan = await waitFor('a batch to wait on sync_seen with its records written', async () => {
        const [row] = await control<{ pid: number }[]>`
          select pid from pg_stat_activity
          where datname = current_database() and application_name = 'ferry' and wait_event_type = 'Lock' and query ~* 'sync_seen'`;
        return row?.pid;
      }, 60_000);
      const [running] = await control<{ id: string; updated: number }[]>`select id::text, updated from runs where id > ${first.id} and status = 'running'`;
      expect(running).toBeDefined();
      await worker.kill();
      expect(worker.child.signalCode).toBe('SIGKILL');
      return { running: running!, orphan };
    });

    // The lock is gone: the batch's backend runs on to its last statement, then finds no client.
    await waitFor("the killed worker's backend to end", async () =>
      ((await control`select 1 from pg_stat_activity where pid = ${orphan}`).length === 0 ? true : undefined), 30_000);
    const { records } = await readAll(api, connectionId, 'Item');
    expect(records.filter((r) => r.name.startsWith('renamed'))).toEqual([]);
    expect((await control<{ updated: number }[]>`select updated from runs where id = ${running.id}`)[0]!.updated).toBe(running.updated);

    survivor = await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
    const lost = await waitFor('the killed run to be failed', async () => {
      const [row] = await control<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${running.id}`;
      return row?.status === 'failed' ? row : undefined;
    }, 60_000);
    expect(lost.error?.code).toBe('WORKER_LOST');
    const retry = await waitForRun(api, connectionId, 'people', running.id, 60_000);
    expect(retry.status).toBe('succeeded');
    const after = await readAll(api, connectionId, 'Item');
    expect(after.records.map((r) => r.name).sort()).toEqual([...provider.items.keys()].map((id) => `renamed ${id}`).sort());
  } finally {
    if (survivor) await cluster.stop(survivor);
    if (worker.child.exitCode === null && worker.child.signalCode === null) await worker.kill();
  }
}, 240_000);
