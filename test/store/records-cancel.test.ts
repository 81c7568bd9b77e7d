/**
 * A records page whose stream is cancelled mid-page (its HTTP reader went away) cancels its query
 * in Postgres instead of letting it produce the rest of the page. A relay between the store and
 * Postgres (test/helpers/pg-relay.ts) stops reading Postgres' bytes after an allowance, so
 * Postgres is blocked writing the page (a fact the test sees in pg_stat_activity, not a race)
 * when the stream is cancelled; then the relay reads again and counts what Postgres still sent.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { relayedUrl, startPgRelay, type PgRelay } from '../helpers/pg-relay.ts';
import { waitFor } from '../helpers/ferry.ts';
import { silentLogger } from './fixtures.ts';

let db: TestDatabase;
let relayed: Database;
let relay: PgRelay;
let store: RecordStore;
/**
 * ~100 MB of page output (the padding compresses in storage, not on the wire): many times what
 * the kernel's socket buffers between Postgres and the stopped relay can hold.
 */
const PAGE = 10_000;
const RECORD_BYTES = 10_000;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`
    insert into records (connection_id, model, id, data, hash)
    select 1, 'Contact', g::text, jsonb_build_object('id', g::text, 'padding', repeat('x', ${RECORD_BYTES}::int)), 'h' || g
    from generate_series(0, ${PAGE - 1}::int) g`;
  relay = await startPgRelay(db.url);
  // One connection: the relay's first, the one it counts and stops reading.
  relayed = await connectDatabase({ databaseUrl: relayedUrl(db.url, relay), logger: silentLogger, maxConnections: 1 });
  store = createRecordStore({ sql: relayed.sql, logger: silentLogger, embedded: false });
  await relayed.sql`select 1`;
});
afterAll(async () => {
  await relayed?.close();
  await relay?.close();
  await db?.drop();
});

test('a page stream cancelled mid-page cancels its query: Postgres stops sending the rest, and the connection serves the next page', async () => {
  const pageQuery = async () => (await db.sql<{ pid: number; wait: string | null }[]>`
    select pid, wait_event as wait from pg_stat_activity
    where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
      and position('page.data as d' in query) > 0`)[0];
  relay.stopReadingAfter(300_000);
  try {
    const page = await store.streamPageBody({ connectionId: '1', model: 'Contact', limit: PAGE });
    expect(page.empty).toBe(false);
    const reader = page.body.getReader();
    expect((await reader.read()).value!.length).toBeGreaterThan(0);
    await waitFor('Postgres blocked writing the page', async () => ((await pageQuery())?.wait === 'ClientWrite' ? true : undefined));
    await reader.cancel();
  } finally {
    relay.release();
  }
  await waitFor('the page query ended', async () => ((await pageQuery()) ? undefined : true));
  // The next statement's answer comes after everything Postgres sent for the cancelled one.
  const next = await store.readPage({ connectionId: '1', model: 'Contact', limit: 2 });
  expect(next.records.map((r) => r.id)).toEqual(['0', '1']);
  // Uncancelled, Postgres sends all ~100 MB; cancelled, what the buffers held when it was blocked.
  expect(relay.firstConnectionBytes).toBeLessThan((PAGE * RECORD_BYTES) / 4);
});
