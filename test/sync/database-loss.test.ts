/**
 * A lost Postgres connection is the host's fault, not the script's: the backend serving a run's
 * batch, and then the one settling the run, are terminated (pg_terminate_backend) while they
 * wait on a lock the test holds. The writes are retried, the run succeeds, and nothing is called
 * SCRIPT_ERROR or WORKER_LOST. GET /records whose backend is terminated is retried once, then
 * answered 503 with Retry-After; the client retries 500/503 reads.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createFerryClient } from '../../client/index.ts';
import type { TransactionSql } from '../../host/db/connect.ts';
import { RECORDS_LOCK_CLASS } from '../../host/store/records-sql.ts';
import { lockRecordModel } from '../../host/store/records.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const TWO_CALLS = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'one page, then one more (empty) call before it returns',
  frequency: 'every 1 hour',
  syncType: 'full',
  trackDeletes: true,
  models: { Item },
  exec: async (nango) => {
    const res = await nango.get<{ items: Array<z.infer<typeof Item>> }>({ endpoint: '/items', params: { limit: '1000' }, retries: 0 });
    await nango.batchSave(res.data.items, 'Item');
    await nango.get({ endpoint: '/items', params: { after: 'zzz' }, retries: 0 });
  },
});`;

let ferry: TestFerry;
let provider: ItemsProvider;
let connectionId: string;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300' });
  await deploySources(ferry, { 'lossp/syncs/twocalls.ts': TWO_CALLS });
  expect((await ferry.api.put('/providers/lossp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'loss-1', provider: 'lossp' })).status).toBe(201);
  const first = await waitForRun(ferry.api, 'loss-1', 'twocalls', '0', 60_000);
  expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });
  const [row] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = 'loss-1'`;
  connectionId = row!.id;
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

/** Holds `take(tx)` in an open transaction until release() is called. */
async function hold(take: (tx: TransactionSql) => Promise<unknown>) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = ferry.db.sql.begin(async (tx) => {
    await take(tx);
    locked();
    await released;
  });
  await isLocked;
  return { release: async () => { release(); await done; } };
}

/**
 * Terminates the backend(s) found waiting on a lock of `kind` while running a statement of the
 * record store (the model lock, or a page read): never the queue's own advisory-lock claims.
 */
async function terminateWaiter(kind: 'advisory' | 'relation'): Promise<void> {
  const statement = kind === 'advisory' ? `%pg_advisory_xact_lock(${RECORDS_LOCK_CLASS},%` : '%from records%';
  await waitFor(`a backend waiting on a ${kind} lock`, async () => {
    const rows = await ferry.db.sql<{ terminated: boolean }[]>`
      select pg_terminate_backend(pid) as terminated from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock' and wait_event = ${kind}
        and query like ${statement}`;
    return rows.length > 0 && rows.every((r) => r.terminated) ? true : undefined;
  }, 30_000);
}

describe('a sync run', () => {
  test('whose batch and then whose final update lose their backend is retried and succeeds: no SCRIPT_ERROR, no WORKER_LOST', async () => {
    const [top] = await ferry.db.sql<{ max: string }[]>`select max(id)::text as max from runs`;
    const max = top!.max;
    for (const id of provider.items.keys()) provider.put(id, `renamed ${id}`);
    provider.delayMs = 1_000;

    // 1. The batch: its transaction waits for the model's lock, and its backend is terminated.
    const batchLock = await hold((tx) => lockRecordModel(tx, connectionId, 'Item'));
    expect((await ferry.api.post('/syncs/twocalls/trigger', { connection_id: 'loss-1' })).status).toBe(202);
    await terminateWaiter('advisory');
    await batchLock.release();
    const run = await waitFor('the batch to commit', async () => {
      const [r] = await ferry.db.sql<{ id: string; updated: number; status: string }[]>`select id::text, updated, status from runs where id > ${max} and script_name = 'twocalls'`;
      return r && r.updated === 12 ? r : undefined;
    }, 30_000);
    expect(run.status).toBe('running');

    // 2. The settle: the run's final transaction waits for the same lock (it applies the pass's
    //    deletes) while the script makes its last slow call; its backend is terminated too.
    const settleLock = await hold((tx) => lockRecordModel(tx, connectionId, 'Item'));
    await terminateWaiter('advisory');
    await settleLock.release();

    const finished = await waitForRun(ferry.api, 'loss-1', 'twocalls', max, 60_000);
    expect(finished).toMatchObject({ id: run.id, status: 'succeeded', error: null, counts: { updated: 12, deleted: 0 } });
    const runs = await ferry.db.sql<{ status: string; code: string | null }[]>`select status, error->>'code' as code from runs where id > ${max}`;
    expect(runs).toEqual([{ status: 'succeeded', code: null }]);
    provider.delayMs = 0;
  }, 120_000);
});

describe('GET /records', () => {
  const url = () => `${ferry.url}/records?connection_id=loss-1&model=Item&limit=100`;
  const get = () => fetch(url(), { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });

  test('a terminated backend is retried once; terminated twice it is a 503 with Retry-After', async () => {
    const once = await hold((tx) => tx`lock table records in access exclusive mode`);
    const first = get();
    await terminateWaiter('relation');
    await once.release();
    const answered = await first;
    expect(answered.status).toBe(200);
    expect(((await answered.json()) as { records: unknown[] }).records).toHaveLength(12);

    const twice = await hold((tx) => tx`lock table records in access exclusive mode`);
    const second = get();
    await terminateWaiter('relation');
    await terminateWaiter('relation');
    const refused = await second;
    await twice.release();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE');
  }, 60_000);

  test('the client retries a 503 after its Retry-After and gets the page', async () => {
    const client = createFerryClient({ url: ferry.url, secretKey: TEST_SECRET_KEY });
    const lock = await hold((tx) => tx`lock table records in access exclusive mode`);
    const page = client.recordsPage({ connectionId: 'loss-1', model: 'Item' });
    await terminateWaiter('relation');
    await terminateWaiter('relation');
    await lock.release();
    expect((await page).records).toHaveLength(12);
  }, 60_000);

  test('the client retries a 500 read, and never a write', async () => {
    let calls = 0;
    const server: Server = createServer((req, res) => {
      calls++;
      const fail = calls === 1 || req.method === 'POST';
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(fail ? { error: { code: 'INTERNAL', message: 'internal error' } } : { records: [], next_cursor: null }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = createFerryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, secretKey: 'k' });
      expect(await client.recordsPage({ connectionId: 'c', model: 'M' })).toEqual({ records: [], next_cursor: null });
      expect(calls).toBe(2);
      await expect(client.triggerSync('s', { connectionId: 'c' })).rejects.toMatchObject({ status: 500 });
      expect(calls).toBe(3);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
