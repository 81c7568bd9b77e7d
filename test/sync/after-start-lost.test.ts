/**
 * A run whose database is lost after its run row was written, before the script runs, is failed
 * as DATABASE_ERROR at once and retried, not left 'running' for the 60 s stale sweep. The test
 * locks the records table (ACCESS EXCLUSIVE), so the run's first read of it (the models' cursors
 * before the run, for the app's webhooks, read when the environment has a webhook URL) waits, and terminates that waiting backend
 * (pg_terminate_backend, on this file's own database only) every time it shows up. That read
 * used to have no retry and no settle: the handler threw past the run, the run stayed 'running'
 * and its pair blocked for a minute (test/sync/backend-killed-host failed 1 run in ~4 that way).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STATEMENT_NAMES } from '../../host/db/statement-names.ts';
import { readAll, startTestFerry, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { controlConnection, newestRunId, terminateLockWaitersUntil, whileHolding, type Control } from '../helpers/lost-database.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

let ferry: TestFerry;
let provider: ItemsProvider;
let control: Control;
let app: Server;

beforeAll(async () => {
  provider = await startItemsProvider(20);
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300' });
  control = controlConnection(ferry, 'afterstart-test');
  // The app's webhook URL: a run reads the cursors (for its webhooks) only when there is one.
  app = createServer((req, res) => { req.resume(); res.end(); });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  expect((await ferry.api.put('/environment/settings', { webhook_url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/hook` })).status).toBe(200);
  await deployProviderConnection(ferry, { provider: 'afterp', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC }, connectionId: 'after-1' });
  expect(await firstRunOf(ferry, 'after-1', 'items')).toMatchObject({ status: 'succeeded', counts: { added: 20 } });
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
  await new Promise((resolve) => app?.close(resolve));
});

let attempt = 0;
test('a run whose first read after its start loses the database every time is failed as DATABASE_ERROR at once, and its retry saves every record', async () => {
  const before = await newestRunId(control);
  // New names on each attempt: a CI retry's run must find every item changed, as the first did.
  const renamed = `renamed (attempt ${++attempt}) `;
  for (const id of provider.items.keys()) provider.put(id, `${renamed}${id}`);
  const { value: failed, kills } = await whileHolding(control, (hold) => hold`lock table records in access exclusive mode`, async () => {
    expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'after-1' })).status).toBe(202);
    // Within 45 s, inside the 60 s stale sweep: a run it failed would be WORKER_LOST, not
    // DATABASE_ERROR, so the code below (not a stopwatch) tells that the run's own process failed it.
    return terminateLockWaitersUntil(control, [STATEMENT_NAMES.runCursorsBefore], 'the run failed by its own process', async () => {
      const [run] = await control<{ id: string; status: string; error: { code: string } }[]>`
        select id::text as id, status, error from runs where id > ${before} order by id limit 1`;
      return run && run.status !== 'running' ? run : undefined;
    }, 45_000);
  });
  expect(kills).toBeGreaterThanOrEqual(4);
  expect(failed).toMatchObject({ status: 'failed', error: { kind: 'internal', code: 'DATABASE_ERROR' } });

  const retried = await waitForRun(ferry.api, 'after-1', 'items', failed.id, 30_000);
  expect(retried).toMatchObject({ status: 'succeeded', counts: { updated: 20 } });
  const { records } = await readAll(ferry.api, 'after-1', 'Item');
  expect(records.filter((r: { name: string }) => r.name.startsWith(renamed))).toHaveLength(20);
  expect(await control`select 1 from runs where status = 'running'`).toHaveLength(0);
}, 90_000);
