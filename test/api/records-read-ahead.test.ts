/**
 * GET /records' read-ahead (host/api/routes/records-read-ahead.ts) over real HTTP: a reader that
 * takes turns on a kept-alive socket gets the page that follows from what the host read ahead,
 * and only while that page is still exactly what a fresh read returns. Each change in between
 * (an update moving a record on, a delete, a record added to a short last page, a revoked key)
 * makes the request read afresh; the read-ahead's own events (its diagnostics channel) show which
 * path each page took, after the page read ahead was whole (so the change came after it).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, request } from 'node:http';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { createFerryClient } from '../../client/index.ts';
import { readAheadChannel, type ReadAheadEvent } from '../../host/api/routes/records-read-ahead.ts';
import { createRecordStore, type RecordPage, type RecordStore } from '../../host/store/records.ts';
import { hashKey } from '../../host/tenancy/environments.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { deleteBatchOf, saveBatchOf, silentLogger } from '../store/fixtures.ts';

let ferry: TestFerry;
let store: RecordStore;
const events: ReadAheadEvent[] = [];
const onEvent = (message: unknown) => { events.push(message as ReadAheadEvent); };
// One socket, kept alive: every request of a test goes over it, as a reader's requests do.
let agent: Agent;

const DECLARE_MODELS = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
const record = z.object({ id: z.string() }).passthrough();
export default createAction({
  description: 'declares the models this file writes through the store',
  input: z.object({}),
  output: z.object({}),
  models: { Contact: record, Deal: record },
  exec: async () => ({}),
});`;

beforeAll(async () => {
  ferry = await startTestFerry({ FERRY_RECORDS_READ_AHEAD: '1' });
  store = createRecordStore({ sql: ferry.db.sql, logger: silentLogger, embedded: false });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  await deploySources(ferry, { 'plain/actions/declare-models.ts': DECLARE_MODELS });
  subscribe(readAheadChannel.name, onEvent);
});
afterAll(async () => {
  unsubscribe(readAheadChannel.name, onEvent);
  await ferry?.close();
});
afterEach(() => { agent?.destroy(); });

function freshAgent() {
  agent?.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
}

/**
 * What became of the pages claimed since `from`: 'ready' (a read-ahead whole) and drops because
 * a socket closed or sat idle come at their own moments, from this or earlier tests' sockets.
 */
const outcomes = (from: number) => events.slice(from)
  .filter((e) => e.event !== 'ready' && !(e.event === 'dropped' && (e.reason === 'closed' || e.reason === 'idle')));

async function createConnection(connectionId: string): Promise<string> {
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'plain' })).status).toBe(201);
  const [row] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = ${connectionId}`;
  return row!.id;
}

interface Got { status: number; body: RecordPage & { error?: { code: string } }; socket: unknown }

function get(path: string, key = TEST_SECRET_KEY): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(`${ferry.url}${path}`, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), socket: req.socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once the read-ahead has published `event` (counting from `from`). */
const waitForEvent = (what: ReadAheadEvent['event'], from: number) =>
  waitFor(`the read-ahead's "${what}"`, async () => (events.slice(from).some((e) => e.event === what) ? true : undefined));

const ids = (page: RecordPage) => page.records.map((r) => r.id);

test('a reader that takes turns is served each following page from the read-ahead, the same page a fresh read returns', async () => {
  freshAgent();
  const internalId = await createConnection('ahead-plain');
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', Array.from({ length: 30 }, (_, i) => ({ id: `c${i}`, n: i }))) });
  const path = (cursor: string | null) => `/records?connection_id=ahead-plain&model=Contact&limit=10${cursor ? `&cursor=${cursor}` : ''}`;

  let from = events.length;
  const first = await get(path(null));
  expect(ids(first.body)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
  let cursor = first.body.next_cursor;
  for (let n = 1; n < 3; n++) {
    await waitForEvent('ready', from);
    from = events.length;
    const page = await get(path(cursor));
    expect(page.socket).toBe(first.socket);
    expect(outcomes(from)).toEqual([{ event: 'served' }]);
    expect(page.body).toEqual(await store.readPage({ connectionId: internalId, model: 'Contact', cursor, limit: 10 }));
    expect(ids(page.body)).toEqual(Array.from({ length: 10 }, (_, i) => `c${n * 10 + i}`));
    cursor = page.body.next_cursor;
  }
  // The third page was full, so the (empty) fourth was read ahead too: an empty page is answered
  // after its own checks, never from the read-ahead.
  await waitForEvent('ready', from);
  from = events.length;
  expect((await get(path(cursor))).body).toEqual({ records: [], next_cursor: null });
  expect(outcomes(from)).toEqual([{ event: 'dropped', reason: 'empty' }]);
});

test('@ferry/client, which asks for the next page on whichever kept-alive socket is free, is served from the read-ahead too', async () => {
  const internalId = await createConnection('ahead-client');
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', Array.from({ length: 25 }, (_, i) => ({ id: `k${i}` }))) });
  const from = events.length;
  const client = createFerryClient({ url: ferry.url, secretKey: TEST_SECRET_KEY });
  const pages: string[][] = [];
  for await (const page of client.recordPages({ connectionId: 'ahead-client', model: 'Contact', limit: 5 })) pages.push(page.records.map((r) => r.id));
  expect(pages).toEqual(Array.from({ length: 5 }, (_, p) => Array.from({ length: 5 }, (_, i) => `k${p * 5 + i}`)));
  // Pages 2–5 were read ahead; the sixth, empty, was read ahead and then read afresh.
  expect(outcomes(from)).toEqual([{ event: 'served' }, { event: 'served' }, { event: 'served' }, { event: 'served' }, { event: 'dropped', reason: 'empty' }]);
});

test('a change after the page was read ahead makes the request read afresh: an update, a delete, a record added to a short page, a revoked key', async () => {
  const internalId = await createConnection('ahead-changes');
  const path = (cursor: string | null) => `/records?connection_id=ahead-changes&model=Deal&limit=5${cursor ? `&cursor=${cursor}` : ''}`;
  const readAfter = (cursor: string | null) => store.readPage({ connectionId: internalId, model: 'Deal', cursor, limit: 5 });
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', Array.from({ length: 8 }, (_, i) => ({ id: `d${i}`, v: 1 }))) });

  /** Page one, then `change` once page two is read ahead whole; page two must be what a fresh read gives. */
  const secondPageAfter = async (change: () => Promise<unknown>, expected: ReadAheadEvent[]) => {
    freshAgent();
    let from = events.length;
    const first = await get(path(null));
    await waitForEvent('ready', from);
    await change();
    from = events.length;
    const second = await get(path(first.body.next_cursor));
    expect(second.body).toEqual(await readAfter(first.body.next_cursor));
    expect(outcomes(from)).toEqual(expected);
    return { first: first.body, second: second.body };
  };

  // d6 moves past the end of the stream with its new version: the page read ahead held its old one.
  let pages = await secondPageAfter(() => store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', [{ id: 'd6', v: 2 }]) }), [{ event: 'dropped', reason: 'changed' }]);
  expect(ids(pages.second)).toEqual(['d5', 'd7', 'd6']);
  expect(pages.second.records.at(-1)).toMatchObject({ id: 'd6', v: 2 });

  pages = await secondPageAfter(() => store.saveBatch({ connectionId: internalId, batch: deleteBatchOf('Deal', ['d5']) }), [{ event: 'dropped', reason: 'changed' }]);
  expect(ids(pages.second)).toEqual(['d7', 'd6', 'd5']);
  expect(pages.second.records.at(-1)!._ferry_metadata.last_action).toBe('deleted');

  // The second page is the stream's short last page: a record added after it was read ahead is on it.
  pages = await secondPageAfter(() => store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', [{ id: 'd8', v: 1 }]) }), [{ event: 'dropped', reason: 'changed' }]);
  expect(ids(pages.second)).toEqual(['d7', 'd6', 'd5', 'd8']);

  // Nothing between: served from the read-ahead.
  pages = await secondPageAfter(async () => {}, [{ event: 'served' }]);
  expect(ids(pages.second)).toEqual(['d7', 'd6', 'd5', 'd8']);

  // A record added after a full page read ahead lands after it: that page is still the one to serve.
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', [{ id: 'd9', v: 1 }]) });
  pages = await secondPageAfter(() => store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', [{ id: 'd10', v: 1 }]) }), [{ event: 'served' }]);
  expect(ids(pages.second)).toEqual(['d7', 'd6', 'd5', 'd8', 'd9']);

  // A key revoked after the read-ahead: refused, as on every request.
  const [env] = await ferry.db.sql<{ id: string }[]>`select environment_id as id from connections where id = ${internalId}`;
  const key = 'fsk_read_ahead_revocation_key_000';
  const [row] = await ferry.db.sql<{ id: string }[]>`insert into api_keys (environment_id, key_hash) values (${env!.id}, ${hashKey(key)}) returning id`;
  freshAgent();
  let from = events.length;
  const first = await get(path(null), key);
  expect(first.status).toBe(200);
  await waitForEvent('ready', from);
  await ferry.db.sql`update api_keys set revoked_at = now() where id = ${row!.id}`;
  from = events.length;
  const refused = await get(path(first.body.next_cursor), key);
  expect(refused.status).toBe(401);
  expect(refused.body.error?.code).toBe('UNAUTHORIZED');
  expect(outcomes(from)).toEqual([{ event: 'dropped', reason: 'changed' }]);
});

test('another request on the socket drops the page read ahead and reads its own', async () => {
  freshAgent();
  const internalId = await createConnection('ahead-other');
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', Array.from({ length: 6 }, (_, i) => ({ id: `o${i}` }))) });
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Deal', [{ id: 'x1' }]) });
  let from = events.length;
  const first = await get('/records?connection_id=ahead-other&model=Contact&limit=3');
  await waitForEvent('ready', from);
  from = events.length;
  // Same cursor, another limit: not the request it was read for.
  const other = await get(`/records?connection_id=ahead-other&model=Contact&limit=2&cursor=${first.body.next_cursor}`);
  expect(ids(other.body)).toEqual(['o3', 'o4']);
  expect(outcomes(from)).toEqual([{ event: 'dropped', reason: 'other request' }]);
  // That full page was followed by a read-ahead too; the socket closing drops it.
  await waitForEvent('ready', from);
  from = events.length;
  agent.destroy();
  await waitFor('the read-ahead dropped as its socket closed', async () =>
    (events.slice(from).some((e) => e.event === 'dropped' && e.reason === 'closed') ? true : undefined));
});

test('under concurrent writers committing out of order, a reader served from the read-ahead still sees every change exactly once', async () => {
  freshAgent();
  const connectionId = 'ahead-concurrent';
  const internalId = await createConnection(connectionId);
  // Records no writer touches come first: their pages cannot change, so they are served ahead.
  await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', Array.from({ length: 40 }, (_, i) => ({ id: `s${i}`, version: 0 }))) });
  const from = events.length;
  let cursor: string | null = null;
  const seen: Array<{ id: string; version: number; action: string; cursor: string }> = [];
  let polls = 0;
  const poll = async () => {
    const { status, body } = await get(`/records?connection_id=${connectionId}&model=Contact&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
    if (status !== 200) throw new Error(`GET /records → ${status} ${JSON.stringify(body)}`);
    for (const r of body.records) seen.push({ id: r.id as string, version: r.version as number, action: r._ferry_metadata.last_action, cursor: r._ferry_metadata.cursor });
    if (body.next_cursor !== null) cursor = body.next_cursor;
    polls++;
    return body.records.length;
  };
  let version = 0;
  const written = new Set<string>();
  let writing = true;
  const afterPolls = async (n: number) => {
    const target = polls + n;
    while (writing && polls < target) await new Promise((r) => setImmediate(r));
  };
  async function writer(name: string, seed: number): Promise<void> {
    for (let batch = 0; batch < 12; batch++) {
      const size = 1 + ((seed * 5 + batch) % 4);
      const batchIds = [...new Set(Array.from({ length: size }, (_, k) => `r${(seed * 7 + batch * 3 + k * 5) % 20}`))];
      const isDelete = (seed + batch) % 5 === 4;
      const records = batchIds.map((id) => ({ id, version: ++version, by: name }));
      await ferry.db.sql.begin(async (tx) => {
        if (isDelete) await store.saveBatch({ connectionId: internalId, batch: deleteBatchOf('Contact', batchIds) }, tx);
        else {
          await store.saveBatch({ connectionId: internalId, batch: saveBatchOf('Contact', records) }, tx);
          for (const r of records) written.add(`${r.id}:${r.version}`);
        }
        if ((seed + batch) % 3 === 0) await afterPolls(2);
      });
    }
  }
  const readerLoop = (async () => { while (writing) await poll(); })();
  await Promise.all([writer('sync', 1), writer('action', 2), writer('webhook', 3)]);
  writing = false;
  await readerLoop;
  while ((await poll()) > 0);

  const cursors = seen.map((s) => BigInt(s.cursor));
  for (let i = 1; i < cursors.length; i++) expect(cursors[i]! > cursors[i - 1]!).toBe(true);
  const versions = seen.filter((s) => s.action !== 'deleted' && s.id.startsWith('r')).map((s) => `${s.id}:${s.version}`);
  expect(new Set(versions).size).toBe(versions.length);
  for (const v of versions) expect(written.has(v)).toBe(true);
  const stored = await ferry.db.sql<{ id: string; version: number; action: string; cursor: string }[]>`
    select id, (data->>'version')::int as version, last_action as action, cursor::text as cursor
    from records where connection_id = ${internalId} and model = 'Contact'`;
  expect(stored.length).toBe(60);
  const lastSeen = new Map(seen.map((s) => [s.id, s]));
  expect(Object.fromEntries(lastSeen)).toEqual(Object.fromEntries(stored.map((r) => [r.id, r])));
  // The untouched records' pages came from the read-ahead (all but the first page).
  expect(events.slice(from).filter((e) => e.event === 'served').length).toBeGreaterThanOrEqual(9);
});
