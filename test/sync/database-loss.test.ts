/**
 * A lost Postgres connection is the host's fault, not the script's: a run's batch and then its
 * final update fail as a terminated backend fails them; the writes are retried, the run succeeds,
 * and nothing is called SCRIPT_ERROR or WORKER_LOST; a write that keeps failing fails the run as
 * DATABASE_ERROR and it is retried. GET /records whose backend is terminated
 * (pg_terminate_backend) is retried once, then answered 503 with Retry-After; the client retries
 * 500/503 reads.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { createFerryClient } from '../../client/index.ts';
import { startCountingProxy } from '../helpers/counting-proxy.ts';
import { idForThisAttempt, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection } from '../helpers/items-connection.ts';
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
  await deployProviderConnection(ferry, { provider: 'lossp', baseUrl: provider.url, scripts: { 'syncs/twocalls.ts': TWO_CALLS }, connectionId: 'loss-1' });
  const first = await waitForRun(ferry.api, 'loss-1', 'twocalls', '0', 60_000);
  expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });
  const [row] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = 'loss-1'`;
  connectionId = row!.id;
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

describe('a sync run', () => {
  /**
   * The run's writes fail the way a terminated backend fails them (SQLSTATE 57P01), from a
   * trigger that fails exactly the next write of a table. Terminating the backend itself inside
   * a transaction trips a postgres.js 3.4.9 bug (a write after close throws from setImmediate and
   * poisons the pooled connection: porsager/postgres#1154, #1208), so the run's side injects the
   * error instead; GET /records below terminates real backends.
   */
  beforeAll(async () => {
    await ferry.db.sql.unsafe(`
      create sequence inject_records;
      create sequence inject_sync_state;
      create table inject (tbl text primary key, fail_until bigint not null);
      create function inject_fault() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from inject where tbl = tg_table_name and nextval('inject_' || tg_table_name) <= fail_until) then
          raise exception using errcode = '57P01', message = 'terminating connection due to administrator command (injected)';
        end if;
        return new;
      end $$;
      create trigger inject_fault before update on records for each row execute function inject_fault();
      create trigger inject_fault before update on sync_state for each row execute function inject_fault();
      create sequence inject_runs;
      -- Only the batch's own update of the run's counts, after its records were written.
      create trigger inject_fault before update on runs for each row
        when (new.updated is distinct from old.updated) execute function inject_fault();`);
  });
  /** The next update of `table` fails as a terminated backend would. */
  const failUpdates = async (table: 'records' | 'sync_state' | 'runs', count: number) => {
    // The last value drawn (a fresh sequence has drawn none: its last_value is its first).
    const [seq] = await ferry.db.sql.unsafe<{ last_value: string }[]>(`select case when is_called then last_value else last_value - 1 end as last_value from inject_${table}`);
    await ferry.db.sql`
      insert into inject (tbl, fail_until) values (${table}, ${String(BigInt(seq!.last_value) + BigInt(count))})
      on conflict (tbl) do update set fail_until = excluded.fail_until`;
  };
  /**
   * New names for every item, of this attempt's own: each test's run updates all 12 records, also
   * on CI's retry of a test whose first attempt renamed them already.
   */
  const renameItems = (label: string) => {
    const name = idForThisAttempt(label);
    for (const id of provider.items.keys()) provider.put(id, `${name} ${id}`);
  };
  const faultUsed = async (table: 'records' | 'sync_state' | 'runs') => {
    const [row] = await ferry.db.sql.unsafe<{ used: boolean }[]>(`select (select last_value from inject_${table}) >= fail_until as used from inject where tbl = '${table}'`);
    return row?.used;
  };

  test('whose batch and then whose final update lose their backend is retried and succeeds: no SCRIPT_ERROR, no WORKER_LOST', async () => {
    const [top] = await ferry.db.sql<{ max: string }[]>`select max(id)::text as max from runs`;
    const max = top!.max;
    renameItems('renamed');
    provider.delayMs = 1_000;
    onTestFinished(() => { provider.delayMs = 0; });

    // 1. The batch of renamed records fails once.
    await failUpdates('records', 1);
    expect((await ferry.api.post('/syncs/twocalls/trigger', { connection_id: 'loss-1' })).status).toBe(202);
    const run = await waitFor('the batch to commit', async () => {
      const [r] = await ferry.db.sql<{ id: string; updated: number; status: string }[]>`select id::text, updated, status from runs where id > ${max} and script_name = 'twocalls'`;
      return r && r.updated === 12 ? r : undefined;
    }, 30_000);
    expect(run.status).toBe('running');
    expect(await faultUsed('records')).toBe(true);

    // 2. The settle fails once too (while the script makes its last slow call, it arms it).
    await failUpdates('sync_state', 1);
    const finished = await waitForRun(ferry.api, 'loss-1', 'twocalls', max, 60_000);
    expect(finished).toMatchObject({ id: run.id, status: 'succeeded', error: null, counts: { updated: 12, deleted: 0 } });
    expect(await faultUsed('sync_state')).toBe(true);
    const runs = await ferry.db.sql<{ status: string; code: string | null }[]>`select status, error->>'code' as code from runs where id > ${max}`;
    expect(runs).toEqual([{ status: 'succeeded', code: null }]);
    const [state] = await ferry.db.sql<{ consecutive_failures: number }[]>`select consecutive_failures from sync_state where connection_id = ${connectionId}`;
    expect(state!.consecutive_failures).toBe(0);
  }, 120_000);

  test('a batch whose commit is retried after a lost connection is counted once, per run and per model', async () => {
    const [top] = await ferry.db.sql<{ max: string }[]>`select max(id)::text as max from runs`;
    renameItems('recounted');
    // The batch's records are written, then its update of the run's counts loses the backend:
    // the whole transaction rolls back and is tried again.
    await failUpdates('runs', 1);
    expect((await ferry.api.post('/syncs/twocalls/trigger', { connection_id: 'loss-1' })).status).toBe(202);
    const finished = await waitForRun(ferry.api, 'loss-1', 'twocalls', top!.max, 60_000);
    expect(await faultUsed('runs')).toBe(true);
    expect(finished).toMatchObject({ status: 'succeeded', counts: { updated: 12 }, model_counts: { Item: { added: 0, updated: 12, deleted: 0 } } });
  }, 120_000);

  test('a write that keeps failing fails the run as DATABASE_ERROR, not SCRIPT_ERROR, and schedules a retry', async () => {
    const [top] = await ferry.db.sql<{ max: string }[]>`select max(id)::text as max from runs`;
    renameItems('again');
    // As many failures as the batch has attempts (1 + 3 retries): the run fails, its retry does not.
    await failUpdates('records', 4);
    expect((await ferry.api.post('/syncs/twocalls/trigger', { connection_id: 'loss-1' })).status).toBe(202);
    const failed = await waitForRun(ferry.api, 'loss-1', 'twocalls', top!.max, 60_000);
    expect(failed).toMatchObject({ status: 'failed', error: { kind: 'internal', code: 'DATABASE_ERROR' } });
    const [state] = await ferry.db.sql<{ retry_attempt: number; next_run_at: Date }[]>`select retry_attempt, next_run_at from sync_state where connection_id = ${connectionId}`;
    expect(state!.retry_attempt).toBe(1);
    expect(state!.next_run_at.getTime()).toBeLessThan(Date.now() + 60_000);
    // The retry (300 ms base here) then succeeds.
    const retried = await waitForRun(ferry.api, 'loss-1', 'twocalls', failed.id, 60_000);
    expect(retried).toMatchObject({ status: 'succeeded', counts: { updated: 12 } });
  }, 120_000);
});

describe('GET /records', () => {
  const url = () => `${ferry.url}/records?connection_id=loss-1&model=Item&limit=100`;
  const get = () => fetch(url(), { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });

  /**
   * The page read fails the way a terminated backend fails it (57P01): \`records\` becomes a view
   * whose filter fails the next N evaluations. (Terminating the backend of a read under load trips
   * the same postgres.js bug as above: a poisoned pooled connection hangs later queries.)
   */
  beforeAll(async () => {
    await ferry.db.sql.unsafe(`
      alter table records rename to records_stored;
      create sequence inject_reads;
      create table inject_read (fail_until bigint not null);
      create function inject_read_fault() returns boolean language plpgsql volatile as $$
      begin
        if exists (select 1 from inject_read where nextval('inject_reads') <= fail_until) then
          raise exception using errcode = '57P01', message = 'terminating connection due to administrator command (injected)';
        end if;
        return true;
      end $$;
      create view records as select * from records_stored where inject_read_fault();`);
  });
  afterAll(async () => {
    await ferry.db.sql.unsafe('drop view records; alter table records_stored rename to records;');
  });
  const failReads = async (count: number) => {
    await ferry.db.sql`delete from inject_read`;
    await ferry.db.sql`insert into inject_read (fail_until) select case when is_called then last_value else last_value - 1 end + ${count} from inject_reads`;
  };

  test('a read that lost its backend is retried once; failing again it is a 503 with Retry-After', async () => {
    await failReads(1);
    const answered = await get();
    expect(answered.status).toBe(200);
    expect(((await answered.json()) as { records: unknown[] }).records).toHaveLength(12);

    await failReads(2);
    const refused = await get();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE');
  }, 60_000);

  test('the client retries a 503 after its Retry-After and gets the page', async () => {
    // Through a counting proxy: what the client asked and what the host answered, in order.
    const proxy = await startCountingProxy(ferry.url);
    onTestFinished(() => proxy.close());
    const client = createFerryClient({ url: proxy.url, secretKey: TEST_SECRET_KEY });
    await failReads(2);
    const started = Date.now();
    expect((await client.recordsPage({ connectionId: 'loss-1', model: 'Item' })).records).toHaveLength(12);
    // One 503 (the host's own retry failed too), then the client's retry answered.
    expect(proxy.requests).toEqual([{ route: 'GET /records', status: 503 }, { route: 'GET /records', status: 200 }]);
    // The retry waited out Retry-After (1 s), not the short backoff it takes without one: a
    // lower bound, which a loaded machine only lengthens.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
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
