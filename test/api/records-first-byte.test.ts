/**
 * GET /records streams end to end: the reader has the page's first bytes while most of its rows
 * have not even reached the host. The host's database connections go through a relay
 * (test/helpers/pg-relay.ts) that holds Postgres' bytes past an allowance, so "Postgres has not
 * delivered its last row yet" is a fact the test sets, not a race.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { idForThisAttempt, TEST_SECRET_KEY } from '../helpers/ferry.ts';
import { relayedUrl, startPgRelay, type PgRelay } from '../helpers/pg-relay.ts';
import { saveBatchOf, silentLogger } from '../store/fixtures.ts';

let db: TestDatabase;
let relay: PgRelay;
let host: FerryHost;
let store: RecordStore;
const headers = { authorization: `Bearer ${TEST_SECRET_KEY}`, 'content-type': 'application/json' };

beforeAll(async () => {
  db = await createTestDatabase();
  relay = await startPgRelay(db.url);
  host = await startFerry(loadConfig({
    DATABASE_URL: relayedUrl(db.url, relay), FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ROLE: 'api',
  }), createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' }));
  store = createRecordStore({ sql: db.sql, logger: silentLogger, embedded: false });
  const provider = await fetch(`${host.url}/providers/plain`, { method: 'PUT', headers, body: JSON.stringify({ base_url: 'http://127.0.0.1:9', auth: { type: 'none' } }) });
  expect(provider.status).toBe(200);
});
afterAll(async () => {
  relay?.release();
  await host?.close();
  await relay?.close();
  await db?.drop();
});

test("the reader receives a page's first bytes before the host has received its last rows from Postgres", async () => {
  const connectionId = idForThisAttempt('first-byte');
  expect((await fetch(`${host.url}/connections`, { method: 'POST', headers, body: JSON.stringify({ connection_id: connectionId, provider: 'plain' }) })).status).toBe(201);
  const [row] = await db.sql<{ id: string }[]>`select id from connections where connection_id = ${connectionId}`;
  const PAGE = 2_000;
  const padding = 'y'.repeat(1_000);
  await store.saveBatch({ connectionId: row!.id, batch: saveBatchOf('Contact', Array.from({ length: PAGE }, (_, i) => ({ id: `f${i}`, padding }))) });

  // ~2.3 MB of rows; the host gets at most 300 KB of Postgres' bytes until the relay is released.
  relay.throttle(300_000);
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  let first: Uint8Array;
  try {
    const response = await fetch(`${host.url}/records?connection_id=${connectionId}&model=Contact&limit=${PAGE}`, { headers });
    expect(response.status).toBe(200);
    reader = response.body!.getReader();
    first = (await reader.read()).value!;
    expect(Buffer.from(first).toString('utf8')).toMatch(/^\{"records":\[\n\{"id": "f0", /);
  } finally {
    relay.release();
  }
  const chunks = [Buffer.from(first)];
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(Buffer.from(next.value));
  const whole = Buffer.concat(chunks);
  expect(whole.length).toBeGreaterThan(7 * 300_000);
  expect(JSON.parse(whole.toString('utf8'))).toEqual(await store.readPage({ connectionId: row!.id, model: 'Contact', limit: PAGE }));
});
