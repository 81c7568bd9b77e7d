/**
 * GET /records streams its page: the first bytes are handed on while Postgres is still sending
 * the rest. A relay between the store and Postgres holds the server's bytes past an allowance,
 * so "still sending" is a fact the test controls, not a race.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { relayedUrl, startPgRelay, type PgRelay } from '../helpers/pg-relay.ts';
import { contact, saveBatchOf, silentLogger } from './fixtures.ts';

let db: TestDatabase;
let relayed: Database;
let relay: PgRelay;
let store: RecordStore;
const PAGE = 2_000;

beforeAll(async () => {
  db = await createTestDatabase();
  const writer = createRecordStore({ sql: db.sql, logger: silentLogger, embedded: false });
  const padding = 'x'.repeat(1_000);
  await writer.saveBatch({ connectionId: '1', batch: saveBatchOf('Contact', Array.from({ length: PAGE }, (_, i) => ({ ...contact(String(i)), padding }))) });
  relay = await startPgRelay(db.url);
  relayed = await connectDatabase({ databaseUrl: relayedUrl(db.url, relay), logger: silentLogger, maxConnections: 1 });
  store = createRecordStore({ sql: relayed.sql, logger: silentLogger, embedded: false });
});
afterAll(async () => {
  await relayed?.close();
  await relay?.close();
  await db?.drop();
});

test('a page is handed on while its rows are still arriving, and the whole stream is the same page readPage returns', async () => {
  // ~2.5 MB of rows; the store receives at most 300 KB of them until the relay lets the rest through.
  relay.throttle(300_000);
  let first: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    const page = await store.streamPageBody({ connectionId: '1', model: 'Contact', limit: PAGE });
    expect(page.empty).toBe(false);
    reader = page.body.getReader();
    first = await reader.read();
    expect(Buffer.from(first.value!).toString('utf8')).toMatch(/^\{"records":\[\n\{"id": "0", /);
  } finally {
    relay.release();
  }
  const chunks = [Buffer.from(first.value!)];
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(Buffer.from(next.value));
  const whole = Buffer.concat(chunks);
  // The first bytes were handed on before even the eighth of the page had reached the store.
  expect(whole.length).toBeGreaterThan(8 * 300_000);
  expect(chunks.length).toBeGreaterThan(2);
  const streamed = JSON.parse(whole.toString('utf8'));
  expect(streamed).toEqual(await store.readPage({ connectionId: '1', model: 'Contact', limit: PAGE }));
  expect(streamed.records).toHaveLength(PAGE);
});

test('an empty page is known before any byte is handed on', async () => {
  const page = await store.streamPageBody({ connectionId: '1', model: 'Nothing', limit: 10 });
  expect(page.empty).toBe(true);
  expect(await new Response(page.body).text()).toBe('{"records":[],"next_cursor":null}');
});

test('records larger than a chunk, first or later, and non-ASCII text stream whole and equal readPage', async () => {
  const writer = createRecordStore({ sql: db.sql, logger: silentLogger, embedded: false });
  const big = (n: number, char: string) => char.repeat(n);
  const records = [
    { ...contact('big-first'), blob: big(200_000, 'é') },
    ...Array.from({ length: 100 }, (_, i) => ({ ...contact(`small-${i}`), note: `ünïcödé ${i} "quoted" \\ ✓` })),
    { ...contact('big-later'), blob: big(100_000, '✓') },
  ];
  await writer.saveBatch({ connectionId: '2', batch: saveBatchOf('Contact', records) });
  const page = await store.streamPageBody({ connectionId: '2', model: 'Contact', limit: 1_000 });
  expect(page.empty).toBe(false);
  const chunks: Buffer[] = [];
  for await (const chunk of page.body) chunks.push(Buffer.from(chunk));
  expect(chunks.length).toBeGreaterThan(2);
  const streamed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  expect(streamed).toEqual(await store.readPage({ connectionId: '2', model: 'Contact', limit: 1_000 }));
  expect(streamed.records.map((r: { id: string }) => r.id)).toEqual(records.map((r) => r.id));
  expect(streamed.records[0].blob).toBe(big(200_000, 'é'));
});

test('rows whose metadata repeats, differs in one field, or whose record is {} stream as readPage builds them', async () => {
  // Straight into the table, in cursor order: neighbours share all, some or none of the dates and
  // the action, so the body reuses the metadata it wrote for the row before only when all match.
  const t1 = '2026-01-02T03:04:05.678901Z';
  const t2 = '2026-01-02T03:04:05.679Z';
  const t3 = '2027-06-07T08:09:10.111Z';
  const rows: Array<[string, string, string, string, string | null]> = [
    ['a', '{"id":"a"}', t1, 'added', null],
    ['b', '{"id":"b"}', t1, 'added', null],
    ['c', '{}', t1, 'added', null],
    ['d', '{"id":"d"}', t1, 'updated', null],
    ['e', '{"id":"e"}', t1, 'deleted', t2],
    ['f', '{}', t1, 'deleted', t2],
    ['g', '{"id":"g"}', t1, 'deleted', t3],
    ['h', '{"id":"h"}', t2, 'deleted', t3],
    ['i', '{"id":"i","x":[{"cursor":"1"}]}', t2, 'deleted', t3],
  ];
  for (const [id, data, updated, action, deleted] of rows) {
    await db.sql`insert into records (connection_id, model, id, data, hash, first_seen_at, updated_at, last_action, deleted_at)
      values (3, 'Mixed', ${id}, ${data}::text::jsonb, ${id}, ${t1}, ${updated}, ${action}, ${deleted})`;
  }
  const body = await store.readPageBody({ connectionId: '3', model: 'Mixed', limit: 100 });
  const page = await store.readPage({ connectionId: '3', model: 'Mixed', limit: 100 });
  expect(JSON.parse(body.toString('utf8'))).toEqual(page);
  expect(page.records.map((r) => [r.id ?? null, r._ferry_metadata.last_action, r._ferry_metadata.deleted_at])).toEqual(
    rows.map(([id, data, , action, deleted]) => [data === '{}' ? null : id, action, deleted === null ? null : new Date(deleted).toISOString()]));
});
