/**
 * A "full resync" trigger (POST /syncs/:name/trigger with full) of an incremental sync whose run
 * is lost stays full on its retry. The test makes the full run's heartbeat look 1 h old while the
 * script waits on the provider, so the stale-run sweep fails it as WORKER_LOST and schedules the
 * retry. Beginning the pass had cleared full_requested and the script saved no checkpoint, so the
 * retry used to start a fresh incremental pass from lastSyncDate: the full refresh never happened.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, itemsSyncSource } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const INCREMENTAL = itemsSyncSource({ syncType: 'incremental' });

let ferry: TestFerry;
let provider: ItemsProvider;

beforeAll(async () => {
  provider = await startItemsProvider(10);
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300' });
  await deployProviderConnection(ferry, { provider: 'fullp', baseUrl: provider.url, scripts: { 'syncs/items.ts': INCREMENTAL }, connectionId: 'full-1' });
  expect(await firstRunOf(ferry, 'full-1', 'items')).toMatchObject({ status: 'succeeded', full: true, counts: { added: 10 } });
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('the retry of a full resync whose run was swept as WORKER_LOST is full again', async () => {
  const [before] = await ferry.db.sql<{ max: string }[]>`select max(id)::text as max from runs`;
  provider.delayMs = 3_000;
  expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'full-1', full: true })).status).toBe(202);
  const lost = await waitFor('the full run going', async () =>
    (await ferry.db.sql<{ id: string }[]>`select id::text as id from runs where id > ${before!.max} and status = 'running' and is_full`)[0], 30_000);
  // As if its process had stopped: the scheduler's sweep fails it and schedules the retry.
  await ferry.db.sql`update runs set heartbeat_at = now() - interval '1 hour' where id = ${lost.id}`;
  await waitFor('the sweep to fail the run', async () =>
    (await ferry.db.sql`select 1 from runs where id = ${lost.id} and status = 'failed' and error->>'code' = 'WORKER_LOST'`)[0], 30_000);
  provider.delayMs = 0;

  const retry = await waitForRun(ferry.api, 'full-1', 'items', lost.id, 30_000);
  expect(retry).toMatchObject({ status: 'succeeded', full: true, counts: { unchanged: 10 } });
  const [row] = await ferry.db.sql<{ fetch_since: Date | null }[]>`select fetch_since from runs where id = ${retry.id}`;
  expect(row!.fetch_since).toBeNull();
  // The provider was read without `since`: everything, not the changes.
  expect(provider.requests.at(-1)!.query.since).toBeUndefined();
  expect(await ferry.db.sql`select 1 from runs where status = 'running'`).toHaveLength(0);
}, 90_000);
