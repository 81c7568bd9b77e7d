/**
 * A page whose reader leaves cancels its query in Postgres (records-cancel.test.ts). A cancel
 * request names the backend, not the statement, and travels on a connection of its own, so one
 * sent as the page ends can arrive while that backend runs the pool's next statement and fail it
 * (seen in bench/api as another reader's page cut short with 57014). A relay between the store and
 * Postgres (test/helpers/pg-relay.ts) makes "the page ended in Postgres before the reader left" and
 * "the cancel request is late" facts the test sets: the statement after the page must not be the
 * one cancelled.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';
import { relayedUrl, startPgRelay, type PgRelay } from '../helpers/pg-relay.ts';
import { silentLogger } from './fixtures.ts';

let db: TestDatabase;
let relayed: Database;
let relay: PgRelay;
let store: RecordStore;
/** ~300 KB of page: several chunks, of which the relay lets the first ~150 KB through. */
const RECORDS = 100;
const RECORD_BYTES = 3_000;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`
    insert into records (connection_id, model, id, data, hash)
    select 1, 'Contact', lpad(g::text, 3, '0'), jsonb_build_object('id', lpad(g::text, 3, '0'), 'padding', repeat('x', ${RECORD_BYTES}::int)), 'h' || g
    from generate_series(0, ${RECORDS - 1}::int) g`;
  relay = await startPgRelay(db.url);
  // One connection: whatever runs after the page runs on the backend the page's cancel names.
  relayed = await connectDatabase({ databaseUrl: relayedUrl(db.url, relay), logger: silentLogger, maxConnections: 1 });
  store = createRecordStore({ sql: relayed.sql, logger: silentLogger, embedded: false });
}, 60_000);
afterAll(async () => {
  await relayed?.close();
  await relay?.close();
  await db?.drop();
});

test("a reader that leaves after its page ended in Postgres: the late cancel request fails nothing that runs next on that backend", async () => {
  const [row] = await relayed.sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const pid = row!.pid;
  relay.throttle(150_000);
  let released = false;
  try {
    const page = await store.streamPageBody({ connectionId: '1', model: 'Contact', limit: RECORDS });
    expect(page.empty).toBe(false);
    // Postgres has sent the whole page (the relay holds the rest): the backend is idle.
    await waitFor('the page query to end in Postgres', async () => {
      const [row] = await db.sql<{ state: string }[]>`select state from pg_stat_activity where pid = ${pid}`;
      return row?.state === 'idle' ? true : undefined;
    }, 30_000);
    relay.holdNewConnections();
    await page.body.getReader().cancel(); // the reader leaves: a cancel request, held by the relay
    // The statement the pool runs next on the only connection, for a second: the cancel arrives during it.
    const next = relayed.sql<{ one: number }[]>`select 1 as one from pg_sleep(1)`.then((rows) => rows.map((r) => r.one), (err: unknown) => err);
    relay.release();
    released = true;
    expect(await next).toEqual([1]);
  } finally {
    if (!released) relay.release();
  }
  // The connection serves pages again.
  const again = await store.readPage({ connectionId: '1', model: 'Contact', limit: 2 });
  expect(again.records.map((r) => r.id)).toEqual(['000', '001']);
}, 60_000);
