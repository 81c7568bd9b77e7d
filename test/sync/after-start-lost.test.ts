/**
 * A run whose database is lost after its run row was written, before the script runs, is failed
 * as DATABASE_ERROR at once and retried, not left 'running' for the 60 s stale sweep. The test
 * locks the records table (ACCESS EXCLUSIVE), so the run's first read of it (the models' cursors
 * before the run, for the app's webhooks) waits, and terminates that waiting backend
 * (pg_terminate_backend, on this file's own database only) every time it shows up. That read
 * used to have no retry and no settle: the handler threw past the run, the run stayed 'running'
 * and its pair blocked for a minute (test/sync/backend-killed-host failed 1 run in ~4 that way).
 */
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const ITEMS = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'every item in one page',
  frequency: 'every 1 hour',
  syncType: 'full',
  models: { Item },
  exec: async (nango) => {
    const res = await nango.get<{ items: Array<z.infer<typeof Item>> }>({ endpoint: '/items', params: { limit: '1000' }, retries: 0 });
    await nango.batchSave(res.data.items, 'Item');
  },
});`;

let ferry: TestFerry;
let provider: ItemsProvider;
let control: ReturnType<typeof postgres>;

beforeAll(async () => {
  provider = await startItemsProvider(20);
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300' });
  control = postgres(ferry.db.url, { max: 2, onnotice: () => {}, connection: { application_name: 'afterstart-test' } });
  await deploySources(ferry, { 'afterp/syncs/items.ts': ITEMS });
  expect((await ferry.api.put('/providers/afterp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'after-1', provider: 'afterp' })).status).toBe(201);
  expect(await waitForRun(ferry.api, 'after-1', 'items', '0', 60_000)).toMatchObject({ status: 'succeeded', counts: { added: 20 } });
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
});

test('a run whose first read after its start loses the database every time is failed as DATABASE_ERROR at once, and its retry saves every record', async () => {
  const [before] = await control<{ max: string }[]>`select max(id)::text as max from runs`;
  for (const id of provider.items.keys()) provider.put(id, `renamed ${id}`);
  const hold = await control.reserve();
  let kills = 0;
  const triggeredAt = Date.now();
  let failed: { id: string; error: { code: string } };
  try {
    await hold`begin`;
    await hold`lock table records in access exclusive mode`;
    expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'after-1' })).status).toBe(202);
    failed = await waitFor('the run failed by its own process', async () => {
      const [row] = await control<{ n: number }[]>`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'ferry' and wait_event_type = 'Lock'
          and query ~* '^\\s*select m\\.model'`;
      kills += row!.n;
      const [run] = await control<{ id: string; status: string; error: { code: string } }[]>`
        select id::text as id, status, error from runs where id > ${before!.max} order by id limit 1`;
      return run && run.status !== 'running' ? run : undefined;
    }, 20_000); // well inside the 60 s stale sweep
    await hold`rollback`;
  } finally {
    hold.release();
  }
  expect(kills).toBeGreaterThanOrEqual(4);
  expect(failed).toMatchObject({ status: 'failed', error: { kind: 'internal', code: 'DATABASE_ERROR' } });
  expect(Date.now() - triggeredAt).toBeLessThan(20_000);

  const retried = await waitForRun(ferry.api, 'after-1', 'items', failed.id, 30_000);
  expect(retried).toMatchObject({ status: 'succeeded', counts: { updated: 20 } });
  const { records } = await readAll(ferry.api, 'after-1', 'Item');
  expect(records.filter((r: { name: string }) => r.name.startsWith('renamed '))).toHaveLength(20);
  expect(await control`select 1 from runs where status = 'running'`).toHaveLength(0);
}, 90_000);
