/**
 * A sync run's start whose commit went through but whose answer was lost (the connection to
 * Postgres dropped right after COMMIT) is tried again by the host, and the unique index of
 * running runs refuses the repeat: the run it had written was left 'running' with no process,
 * the job completed as "already in progress", and only the stale-run sweep (FERRY_STALE_RUN_MS,
 * 60 s) failed it as WORKER_LOST for a retry to run the trigger. Now the repeat finds the row its
 * own job wrote and carries on with it at once: one run row, succeeded, no WORKER_LOST. Through a
 * whole host whose database connections go through a TCP proxy on 127.0.0.1 that drops the
 * connection instead of passing on the answer that says the run row's insert committed.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, TEST_SECRET_KEY, waitFor, waitForRun, type ApiClient, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

/**
 * ReadyForQuery with status idle ('Z', int32 length 5, 'I'): the server has committed. It follows
 * the COMMIT of a transaction, and a statement run on its own (the start is one statement that
 * writes the run row and begins its pass); inside a transaction the status is 'T'.
 */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
const RUN_INSERT = Buffer.from('insert into runs (');

interface DroppingProxy { port: number; armed: boolean; dropped: number; close(): Promise<void> }

/** Forwards to Postgres; while armed, the first connection that inserts a run row loses the answer that says it committed (and the connection). */
async function startDroppingProxy(target: { host: string; port: number }): Promise<DroppingProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let insertsRun = false;
    client.on('data', (chunk: Buffer) => {
      if (proxy.armed && chunk.includes(RUN_INSERT)) insertsRun = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (insertsRun && proxy.armed && chunk.includes(READY_IDLE)) {
        proxy.armed = false;
        proxy.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const proxy: DroppingProxy = {
    port: (server.address() as AddressInfo).port, armed: false, dropped: 0,
    close: () => new Promise((done) => { for (const s of sockets) s.destroy(); server.close(() => done()); }),
  };
  return proxy;
}

let db: TestDatabase;
let host: FerryHost;
let api: ApiClient;
let proxy: DroppingProxy;
let provider: ItemsProvider;

beforeAll(async () => {
  provider = await startItemsProvider(10);
  db = await createTestDatabase();
  const url = new URL(db.url);
  proxy = await startDroppingProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  host = await startFerry(loadConfig({
    DATABASE_URL: url.toString(), FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_RUNTIME_WORKERS: '1', FERRY_SCHEDULER_TICK_MS: '200',
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
  await waitFor('the answer to the start\'s commit to be dropped', async () => (proxy.dropped === 1 ? true : undefined));
  // Well inside the 60 s stale-run limit: the run that committed unseen itself succeeds.
  const run = await waitForRun(api, 'unseen-1', 'items', max, 30_000);
  expect(run.status).toBe('succeeded');
  const rows = await db.sql<{ id: string; status: string; error: unknown }[]>`select id::text, status, error from runs where id > ${max} order by id`;
  expect(rows).toEqual([{ id: run.id, status: 'succeeded', error: null }]);
}, 90_000);
