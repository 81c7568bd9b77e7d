/**
 * GET /records over HTTP: the cursor promise with concurrent writers (a sync, an action and a
 * webhook writing one model through the real store, some holding their transactions open so
 * commits land out of order) and a polling reader; then the filters (ids, filter, modified_after).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { deploySources, idForThisAttempt, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { deleteBatchOf, saveBatchOf, silentLogger } from '../store/fixtures.ts';

let ferry: TestFerry;
let store: RecordStore;

async function createConnection(connectionId: string): Promise<string> {
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'plain' })).status).toBe(201);
  const [row] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = ${connectionId}`;
  return row!.id;
}

beforeAll(async () => {
  ferry = await startTestFerry();
  store = createRecordStore({ sql: ferry.db.sql, logger: silentLogger, embedded: false });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  // The records are written through the store below; a deployed script declares their models, so
  // GET /records knows them before the first write (an undeclared model is a 404).
  await deploySources(ferry, { 'plain/actions/declare-models.ts': DECLARE_MODELS });
});
afterAll(async () => { await ferry?.close(); });

const DECLARE_MODELS = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
const record = z.object({ id: z.string() }).passthrough();
export default createAction({
  description: 'declares the models this file writes through the store',
  input: z.object({}),
  output: z.object({}),
  models: { Contact: record, Deal: record, Note: record },
  exec: async () => ({}),
});`;

interface Seen { id: string; version: number; action: string; cursor: string }

function createHttpReader(connectionId: string, model: string, limit: number) {
  let cursor: string | null = null;
  const seen: Seen[] = [];
  let polls = 0;
  return {
    seen,
    get polls() { return polls; },
    async poll(): Promise<number> {
      const path = `/records?connection_id=${connectionId}&model=${model}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const { status, body } = await ferry.api.get(path);
      if (status !== 200) throw new Error(`GET ${path} → ${status} ${JSON.stringify(body)}`);
      for (const r of body.records) seen.push({ id: r.id, version: r.version, action: r._ferry_metadata.last_action, cursor: r._ferry_metadata.cursor });
      if (body.next_cursor !== null) cursor = body.next_cursor;
      polls++;
      return body.records.length;
    },
  };
}

test('a polling HTTP reader sees every change exactly once while a sync, an action and a webhook write the same model and commit out of order', async () => {
  const connectionId = 'concurrent';
  const internalId = await createConnection(connectionId);
  const reader = createHttpReader(connectionId, 'Contact', 4);
  let version = 0;
  const written = new Set<string>();
  let writing = true;

  /** Resolves once the reader has completed `n` more polls: holding a transaction across them forces other writers to queue and commit later. */
  const afterPolls = async (n: number) => {
    const target = reader.polls + n;
    while (writing && reader.polls < target) await new Promise((r) => setImmediate(r));
  };

  async function writer(name: string, seed: number): Promise<void> {
    for (let batch = 0; batch < 12; batch++) {
      const size = 1 + ((seed * 5 + batch) % 4);
      const ids = [...new Set(Array.from({ length: size }, (_, k) => `r${(seed * 7 + batch * 3 + k * 5) % 20}`))];
      const isDelete = (seed + batch) % 5 === 4;
      const records = ids.map((id) => ({ id, version: ++version, by: name }));
      await ferry.db.sql.begin(async (tx) => {
        if (isDelete) await store.saveBatch({ connectionId: internalId, batch: deleteBatchOf('Contact', ids) }, tx);
        else {
          await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', records) }, tx);
          for (const r of records) written.add(`${r.id}:${r.version}`);
        }
        // Every third batch stays open across reader polls before committing.
        if ((seed + batch) % 3 === 0) await afterPolls(2);
      });
    }
  }

  const readerLoop = (async () => { while (writing) await reader.poll(); })();
  await Promise.all([writer('sync', 1), writer('action', 2), writer('webhook', 3)]);
  writing = false;
  await readerLoop;
  while ((await reader.poll()) > 0);

  // No change seen twice, and cursors strictly increase.
  const cursors = reader.seen.map((s) => BigInt(s.cursor));
  for (let i = 1; i < cursors.length; i++) expect(cursors[i]! > cursors[i - 1]!).toBe(true);
  const versions = reader.seen.filter((s) => s.action !== 'deleted').map((s) => `${s.id}:${s.version}`);
  expect(new Set(versions).size).toBe(versions.length);
  for (const v of versions) expect(written.has(v)).toBe(true);

  // Nothing missed: the last change seen of each record is the stored one, cursor included.
  const stored = await ferry.db.sql<{ id: string; version: number; action: string; cursor: string }[]>`
    select id, (data->>'version')::int as version, last_action as action, cursor::text as cursor
    from records where connection_id = ${internalId} and model = 'Contact'`;
  expect(stored.length).toBe(20);
  const lastSeen = new Map(reader.seen.map((s) => [s.id, s]));
  expect(Object.fromEntries(lastSeen)).toEqual(Object.fromEntries(stored.map((r) => [r.id, r])));
  expect(reader.polls).toBeGreaterThan(10);
});

test('ids (comma-separated or repeated), filter and modified_after narrow the page; next_cursor continues', async () => {
  const connectionId = 'filters';
  const internalId = await createConnection(connectionId);
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, v: 1 }))) });
  const [{ now } = { now: new Date(0) }] = await ferry.db.sql<{ now: Date }[]>`select clock_timestamp() as now`;
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', [{ id: 'b', v: 2 }]) });
  await store.saveBatch({ connectionId: internalId, batch: deleteBatchOf('Deal', ['c']) });
  const get = async (query: string) => {
    const { status, body } = await ferry.api.get(`/records?connection_id=${connectionId}&model=Deal&${query}`);
    expect(status, JSON.stringify(body)).toBe(200);
    return body as { records: Array<{ id: string; _ferry_metadata: { last_action: string; cursor: string } }>; next_cursor: string | null };
  };
  const ids = (page: { records: Array<{ id: string }> }) => page.records.map((r) => r.id);

  expect(ids(await get('ids=e,a,b,zz'))).toEqual(['a', 'e', 'b']); // cursor order; unknown ids ignored
  expect(ids(await get('ids=e&ids=a&ids=a'))).toEqual(['a', 'e']); // repeated, duplicates once
  const first = await get('ids=a,b,e&limit=2');
  expect(ids(first)).toEqual(['a', 'e']);
  expect(ids(await get(`ids=a,b,e&limit=2&cursor=${first.next_cursor}`))).toEqual(['b']);
  expect(ids(await get('filter=deleted'))).toEqual(['c']);
  expect(ids(await get('filter=added,updated&ids=b,c,d'))).toEqual(['d', 'b']);
  expect(ids(await get(`modified_after=${encodeURIComponent(now.toISOString())}`))).toEqual(['b', 'c']);
  // Metadata times are the stored timestamps, truncated to milliseconds, in UTC ISO-8601.
  const times = await ferry.db.sql<{ id: string; first: string; modified: string; deleted: string | null }[]>`
    select id, to_char(first_seen_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as first,
      to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as modified,
      to_char(deleted_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as deleted
    from records where connection_id = ${internalId} and model = 'Deal'`;
  const served = (await get('limit=10')).records as unknown as Array<{ id: string; _ferry_metadata: Record<string, unknown> }>;
  expect(Object.fromEntries(served.map((r) => [r.id, [r._ferry_metadata.first_seen_at, r._ferry_metadata.last_modified_at, r._ferry_metadata.deleted_at]])))
    .toEqual(Object.fromEntries(times.map((t) => [t.id, [t.first, t.modified, t.deleted]])));
  const all = await get('limit=10000');
  expect(all.records).toHaveLength(5);
  expect(all.next_cursor).toBe(all.records.at(-1)!._ferry_metadata.cursor);
  expect(await get(`cursor=${all.next_cursor}`)).toEqual({ records: [], next_cursor: null });

  const tooMany = await ferry.api.get(`/records?connection_id=${connectionId}&model=Deal&ids=${Array.from({ length: 1001 }, (_, i) => i).join(',')}`);
  expect(tooMany.status).toBe(400);
  expect(tooMany.body.error.issues[0].path).toEqual(['query', 'ids']);
  expect((await ferry.api.get(`/records?connection_id=${connectionId}&model=Deal&limit=10001`)).status).toBe(400);
  expect((await ferry.api.get(`/records?connection_id=${connectionId}&model=Deal&limit=5&limit=6`)).status).toBe(400);
  expect((await ferry.api.get(`/records?connection_id=${connectionId}&model=Deal&cursor=9223372036854775808`)).body.error.code).toBe('INVALID_CURSOR');
});

test("one environment's key never reads another's records", async () => {
  const internalId = await createConnection('private');
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Note', [{ id: 'secret' }]) });
  const [env] = await ferry.db.sql<{ id: string }[]>`insert into environments (name) values ('other') returning id`;
  const { hashKey } = await import('../../host/tenancy/environments.ts');
  await ferry.db.sql`insert into api_keys (environment_id, key_hash) values (${env!.id}, ${hashKey('fsk_other_environment_key_0000')})`;
  const response = await ferry.api.request('GET', '/records?connection_id=private&model=Note', undefined, 'fsk_other_environment_key_0000');
  expect(response.status).toBe(404);
  expect(response.body.error.code).toBe('NOT_FOUND');
});

test('the key is checked first, against the database on every request: 401 before validation, 404 for an unknown connection, a revoked key refused at once', async () => {
  const internalId = await createConnection('keyed');
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Note', [{ id: 'n1' }]) });
  const get = (path: string, key: string | null) => ferry.api.request('GET', path, undefined, key);
  expect((await get('/records?connection_id=keyed&model=Note', null)).status).toBe(401);
  expect((await get('/records?connection_id=keyed&model=Note&limit=0', 'fsk_not_a_key')).status).toBe(401);
  expect((await get('/records?connection_id=keyed&model=Note', 'fsk_not_a_key')).body.error.code).toBe('UNAUTHORIZED');
  expect((await ferry.api.get('/records?connection_id=keyed&model=Note&limit=0')).body.error.code).toBe('INVALID_REQUEST');
  expect((await ferry.api.get('/records?connection_id=nobody&model=Note')).body.error.code).toBe('NOT_FOUND');

  const [env] = await ferry.db.sql<{ id: string }[]>`select environment_id as id from connections where id = ${internalId}`;
  const { hashKey } = await import('../../host/tenancy/environments.ts');
  const key = 'fsk_records_revocation_test_key_0';
  const [row] = await ferry.db.sql<{ id: string }[]>`insert into api_keys (environment_id, key_hash) values (${env!.id}, ${hashKey(key)}) returning id`;
  const page = await get('/records?connection_id=keyed&model=Note', key);
  expect(page.status).toBe(200);
  expect(page.body.records.map((r: { id: string }) => r.id)).toEqual(['n1']);
  await ferry.db.sql`update api_keys set revoked_at = now() where id = ${row!.id}`;
  expect((await get('/records?connection_id=keyed&model=Note', key)).status).toBe(401);
});

test('a large page is streamed as it is read (chunked, no content-length) and is the same page readPage returns', async () => {
  const internalId = await createConnection('streamed');
  const padding = 'p'.repeat(1_000);
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', Array.from({ length: 500 }, (_, i) => ({ id: `s${i}`, padding }))) });
  const response = await fetch(`${ferry.url}/records?connection_id=streamed&model=Contact&limit=500`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(response.headers.get('transfer-encoding')).toBe('chunked');
  expect(response.headers.get('content-length')).toBeNull();
  const page = await response.json() as { records: unknown[] };
  expect(page).toEqual(await store.readPage({ connectionId: internalId, model: 'Contact', limit: 500 }));
  expect(page.records).toHaveLength(500);
});

test('pages read at once over reused chunks are each whole and their own; a short page has a Content-Length; a reader that leaves mid-page leaves the host serving', async () => {
  const ids = await Promise.all(['reuse-a', 'reuse-b', 'reuse-c'].map(createConnection));
  // Each connection's records carry its own letter, so a chunk reused while another page still
  // needed it would show up as a foreign letter (or broken JSON) in some page.
  await Promise.all(ids.map((internalId, n) => store.saveBatch({
    connectionId: internalId,
    batch: saveBatchOf('Contact', Array.from({ length: 600 }, (_, i) => ({ id: `r${i}`, padding: 'abc'[n]!.repeat(900 + (i % 50)) }))),
  })));
  const get = (connectionId: string, query: string) => fetch(`${ferry.url}/records?connection_id=${connectionId}&model=Contact&${query}`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });

  // A reader that goes away after its first bytes: the host cancels that page and goes on.
  const leaving = await get('reuse-a', 'limit=600');
  const leavingReader = leaving.body!.getReader();
  expect((await leavingReader.read()).value!.length).toBeGreaterThan(0);
  await leavingReader.cancel();

  for (let round = 0; round < 3; round++) {
    const pages = await Promise.all(['reuse-a', 'reuse-b', 'reuse-c', 'reuse-a', 'reuse-b', 'reuse-c'].map(async (connectionId, n) => {
      const response = await get(connectionId, 'limit=600');
      expect(response.status).toBe(200);
      return { n: n % 3, page: await response.json() as { records: Array<{ id: string; padding: string }>; next_cursor: string } };
    }));
    for (const { n, page } of pages) {
      expect(page.records).toHaveLength(600);
      expect(page.records.every((r, i) => r.id === `r${i}` && r.padding === 'abc'[n]!.repeat(900 + (i % 50)))).toBe(true);
    }
  }
  const expected = await store.readPage({ connectionId: ids[1]!, model: 'Contact', limit: 600 });
  expect(await (await get('reuse-b', 'limit=600')).json()).toEqual(expected);

  const short = await get('reuse-c', 'limit=3');
  expect(short.headers.get('content-length')).toBe(String(Buffer.byteLength(await short.clone().text())));
  expect(short.headers.get('transfer-encoding')).toBeNull();
  expect((await short.json() as { records: unknown[] }).records).toHaveLength(3);
});

test('a reader that goes away while its page is still in Postgres cancels the query there; the host goes on serving', async () => {
  const connectionId = idForThisAttempt('leaving-reader');
  const internalId = await createConnection(connectionId);
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', [{ id: 'l1' }]) });
  const url = `${ferry.url}/records?connection_id=${connectionId}&model=Contact&limit=10`;
  const headers = { authorization: `Bearer ${TEST_SECRET_KEY}` };
  // The page query (its text reads page.data as d) still running in a backend of this database.
  const runningPageQuery = async () => (await ferry.db.sql<{ pid: number; wait: string | null }[]>`
    select pid, wait_event_type as wait from pg_stat_activity
    where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
      and position('page.data as d' in query) > 0`)[0];

  // A transaction holding records' ACCESS EXCLUSIVE lock keeps the page query waiting for as long
  // as the test holds it: a query that is not cancelled is still there when the test looks.
  const holder = await ferry.db.sql.reserve();
  try {
    await holder`begin`;
    await holder`lock table records in access exclusive mode`;
    const reader = new AbortController();
    const request = fetch(url, { headers, signal: reader.signal }).catch((err: unknown) => err);
    const waiting = await waitFor('the page query waiting for the lock', async () => {
      const running = await runningPageQuery();
      return running?.wait === 'Lock' ? running : undefined;
    });
    reader.abort();
    expect((await request as Error).name).toBe('AbortError');
    await waitFor('the page query cancelled while the lock is still held', async () => (await runningPageQuery())?.pid === waiting.pid ? undefined : true);
  } finally {
    await holder`rollback`.catch(() => {});
    holder.release();
  }
  const response = await fetch(url, { headers });
  expect(response.status).toBe(200);
  expect((await response.json() as { records: Array<{ id: string }> }).records.map((r) => r.id)).toEqual(['l1']);
});
