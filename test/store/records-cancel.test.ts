/**
 * A records page whose stream is cancelled mid-page (its HTTP reader went away) cancels its query
 * in Postgres instead of letting it produce the rest of the page. A relay between the store and
 * Postgres stops reading Postgres' bytes after an allowance, so Postgres is blocked writing the
 * page (a fact the test sees in pg_stat_activity, not a race) when the stream is cancelled; then
 * the relay reads again and counts what Postgres still sent.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';
import { saveBatchOf, silentLogger } from './fixtures.ts';

/** Forwards both ways; the first connection's server → client bytes are counted and can be held (paused). */
function startPausingRelay(target: { host: string; port: number }) {
  let data: net.Socket | null = null;
  let holdAfter = Infinity;
  let forwarded = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target);
    sockets.add(inbound).add(outbound);
    const first = data === null;
    if (first) data = outbound;
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      inbound.write(chunk);
      if (!first) return;
      forwarded += chunk.length;
      // Not read any further: Postgres' socket fills and its backend blocks writing.
      if (forwarded > holdAfter) outbound.pause();
    });
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  return {
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))),
    holdAfter: (bytes: number) => { holdAfter = forwarded + bytes; },
    release: () => { holdAfter = Infinity; data?.resume(); },
    get forwarded() { return forwarded; },
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve); }),
  };
}

let db: TestDatabase;
let relayed: Database;
let relay: ReturnType<typeof startPausingRelay>;
let store: RecordStore;
/** ~20 MB of rows: far more than the kernel's socket buffers between Postgres and the relay hold. */
const PAGE = 10_000;
const RECORD_BYTES = 2_000;

beforeAll(async () => {
  db = await createTestDatabase();
  const writer = createRecordStore({ sql: db.sql, logger: silentLogger, embedded: false });
  const padding = 'x'.repeat(RECORD_BYTES);
  await writer.saveBatch({ connectionId: '1', batch: saveBatchOf('Contact', Array.from({ length: PAGE }, (_, i) => ({ id: String(i), padding }))) });
  const url = new URL(db.url);
  relay = startPausingRelay({ host: url.hostname, port: Number(url.port) });
  url.port = String(await relay.listen());
  // One connection: the relay's first, the one it counts and holds.
  relayed = await connectDatabase({ databaseUrl: url.toString(), logger: silentLogger, maxConnections: 1 });
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
      and position('page.data::text' in query) > 0`)[0];
  relay.holdAfter(300_000);
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
  expect(relay.forwarded).toBeLessThan((PAGE * RECORD_BYTES) / 2);
});
