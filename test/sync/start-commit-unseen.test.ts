/**
 * A sync run's start whose commit went through but whose answer was lost (the connection to
 * Postgres dropped right after COMMIT) is tried again by the host, and the unique index of
 * running runs refuses the repeat: the run it had written was left 'running' with no process,
 * the job completed as "already in progress", and only the stale-run sweep (FERRY_STALE_RUN_MS,
 * 60 s) failed it as WORKER_LOST for a retry to run the trigger. Now the repeat finds the row its
 * own job wrote and carries on with it at once: one run row, succeeded, no WORKER_LOST. Through a
 * whole host whose database connections go through a TCP proxy on 127.0.0.1 that drops the
 * connection instead of passing on the COMMIT answer of the transaction that inserts the run row.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { statementMark, STATEMENT_NAMES } from '../../host/db/statement-names.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startDroppingProxy, type DroppingProxy } from '../helpers/dropping-proxy.ts';
import { createApiClient, TEST_SECRET_KEY, waitFor, waitForRun, type ApiClient, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

let db: TestDatabase;
let host: FerryHost;
let api: ApiClient;
let proxy: DroppingProxy;
let provider: ItemsProvider;

beforeAll(async () => {
  provider = await startItemsProvider(10);
  db = await createTestDatabase();
  proxy = await startDroppingProxy(db.url, { client: Buffer.from(statementMark(STATEMENT_NAMES.runStart)) });
  host = await startFerry(loadConfig({
    DATABASE_URL: proxy.url(db.url), FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_RUNTIME_WORKERS: '1', FERRY_SCHEDULER_TICK_MS: '200',
  }), createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' }));
  api = createApiClient(host.url!, TEST_SECRET_KEY);
  const ferry: TestFerry = { db, host, url: host.url!, api, close: async () => {} };
  await deployProviderConnection(ferry, { provider: 'unseenp', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC }, connectionId: 'unseen-1' });
  expect(await firstRunOf(ferry, 'unseen-1', 'items')).toMatchObject({ status: 'succeeded' });
}, 120_000);
afterAll(async () => {
  await host?.close();
  await proxy?.close();
  await db?.drop();
  await provider?.close();
});

test('a run start committed unseen carries on with the row it wrote, at once: one run, succeeded', async () => {
  const [{ max } = { max: '0' }] = await db.sql<{ max: string }[]>`select coalesce(max(id), 0)::text as max from runs`;
  proxy.armed = true;
  expect((await api.post('/syncs/items/trigger', { connection_id: 'unseen-1' })).status).toBe(202);
  await waitFor('the start\'s COMMIT answer to be dropped', async () => (proxy.dropped === 1 ? true : undefined));
  // Well inside the 60 s stale-run limit: the run that committed unseen itself succeeds.
  const run = await waitForRun(api, 'unseen-1', 'items', max, 30_000);
  expect(run.status).toBe('succeeded');
  const rows = await db.sql<{ id: string; status: string; error: unknown }[]>`select id::text, status, error from runs where id > ${max} order by id`;
  expect(rows).toEqual([{ id: run.id, status: 'succeeded', error: null }]);
}, 90_000);
