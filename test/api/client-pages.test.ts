/**
 * @ferry/client against a real host: the records iterator asks for the next page while the app
 * handles the current one (the host and Postgres build it meanwhile), and leaving the loop cancels
 * that page. The client's fetch is the real one, wrapped only to see what it asked for.
 */
import diagnostics from 'node:diagnostics_channel';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createFerryClient, type FerryClient } from '../../client/index.ts';
import { createRecordStore } from '../../host/store/records.ts';
import { deploySources, idForThisAttempt, startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';
import { saveBatchOf, silentLogger } from '../store/fixtures.ts';

const DECLARE_MODELS = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'declares the model this file writes through the store',
  input: z.object({}),
  output: z.object({}),
  models: { Item: z.object({ id: z.string() }).passthrough() },
  exec: async () => ({}),
});`;

let ferry: TestFerry;

beforeAll(async () => {
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  await deploySources(ferry, { 'plain/actions/declare-models.ts': DECLARE_MODELS });
});
afterAll(async () => { await ferry?.close(); });

/** A connection of its own holding `count` Items, written through the real store. */
async function connectionWithItems(base: string, count: number): Promise<string> {
  const connectionId = idForThisAttempt(base);
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'plain' })).status).toBe(201);
  const [row] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = ${connectionId}`;
  const store = createRecordStore({ sql: ferry.db.sql, logger: silentLogger, embedded: false });
  await store.saveBatch({ connectionId: row!.id, batch: saveBatchOf('Item', Array.from({ length: count }, (_, i) => ({ id: `i${i}`, n: i, text: 'é'.repeat(i) }))) });
  return connectionId;
}

interface Asked { cursor: string | null; signal: AbortSignal | null }

/** A client over the real fetch that notes each GET /records it sends: its cursor and signal. */
function watchedClient(): { client: FerryClient; asked: Asked[] } {
  const asked: Asked[] = [];
  const client = createFerryClient({
    url: ferry.url,
    secretKey: TEST_SECRET_KEY,
    fetch: (input, init) => {
      const url = new URL(String(input));
      if (url.pathname === '/records') asked.push({ cursor: url.searchParams.get('cursor'), signal: init?.signal ?? null });
      return fetch(input, init);
    },
  });
  return { client, asked };
}

test('the next page is asked for while the app still handles the first record of this one', async () => {
  const connectionId = await connectionWithItems('client-pages-ahead', 25);
  const { client, asked } = watchedClient();
  const firstPage = await client.recordsPage({ connectionId, model: 'Item', limit: 10 });
  asked.length = 0;

  const seen: string[] = [];
  const records = client.records<{ n: number }>({ connectionId, model: 'Item', limit: 10 });
  for await (const record of records) {
    if (seen.length === 0) {
      // The app holds the first record; the page after it is already on its way.
      await expect.poll(() => asked.map((a) => a.cursor)).toContain(firstPage.next_cursor);
    }
    seen.push(record.id);
  }
  const cursorsAsked = asked.map((a) => a.cursor);
  expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `i${i}`));
  // Pages of 10, 10, 5, then the empty page that ends the loop: each asked for once.
  expect(cursorsAsked).toHaveLength(4);
  expect(new Set(cursorsAsked).size).toBe(4);
  expect(records.cursor).toBe((await client.recordsPage({ connectionId, model: 'Item', limit: 25 })).next_cursor);
});

test('recordPages: every page once in cursor order, also when the last page is exactly full', async () => {
  const connectionId = await connectionWithItems('client-pages-exact', 20);
  const { client } = watchedClient();
  const pages = [];
  for await (const page of client.recordPages<{ n: number; text: string }>({ connectionId, model: 'Item', limit: 10 })) pages.push(page);
  expect(pages.map((p) => p.records.length)).toEqual([10, 10]);
  expect(pages.flatMap((p) => p.records.map((r) => r.n))).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(pages[1]!.records[19 - 10]!.text).toBe('é'.repeat(19));
  expect(pages.map((p) => p.next_cursor)).toEqual(pages.map((p) => p.records.at(-1)!._ferry_metadata.cursor));
});

test('leaving the loop cancels the page asked for ahead', async () => {
  const connectionId = await connectionWithItems('client-pages-leave', 25);
  const { client, asked } = watchedClient();
  const records = client.records({ connectionId, model: 'Item', limit: 10 });
  for await (const record of records) {
    expect(record.id).toBe('i0');
    await expect.poll(() => asked.length).toBe(2);
    break;
  }
  expect(asked[0]!.signal?.aborted).toBe(false); // the page the app got finished normally
  expect(asked[1]!.signal?.aborted).toBe(true);
  expect(records.cursor).toBe((await client.recordsPage({ connectionId, model: 'Item', limit: 1 })).next_cursor);
});

test('the next page is on the wire before this page is parsed', async () => {
  // The client's head start only overlaps if the request for the next page has left before the
  // parse of this one blocks the event loop: `fetch()` returns at once, but undici puts the request
  // on its socket a few promise turns later. Seen here from the inside: undici reports the moment it
  // writes a request's headers and when it opens a connection (diagnostics_channel), and JSON.parse
  // says when a page's parse starts. A request that needs a new connection waits for the connect
  // (one round trip, in the poll phase) and is excused; a warm-up read leaves the pool its sockets.
  const connectionId = await connectionWithItems('client-pages-wire', 25);
  const { client } = watchedClient();
  for await (const page of client.recordPages({ connectionId, model: 'Item', limit: 10 })) expect(page.records.length).toBeGreaterThan(0);
  const events: string[] = [];
  const onSend = (message: unknown) => {
    const { request } = message as { request: { path: string } };
    const url = new URL(request.path, 'http://x');
    if (url.pathname === '/records') events.push(`sent ${url.searchParams.get('cursor') ?? 'start'}`);
  };
  const onConnect = () => { events.push('connect'); };
  const parse = JSON.parse;
  JSON.parse = ((text: string, reviver?: (key: string, value: unknown) => unknown) => {
    if (typeof text === 'string' && text.startsWith('{"records":')) {
      events.push(`parse ${/"next_cursor":(?:"(\d+)"|null)\}$/.exec(text)?.[1] ?? 'end'}`);
    }
    return parse(text, reviver);
  }) as typeof JSON.parse;
  diagnostics.subscribe('undici:client:sendHeaders', onSend);
  diagnostics.subscribe('undici:client:beforeConnect', onConnect);
  const cursors: string[] = [];
  try {
    for await (const page of client.recordPages({ connectionId, model: 'Item', limit: 10 })) cursors.push(page.next_cursor!);
  } finally {
    diagnostics.unsubscribe('undici:client:sendHeaders', onSend);
    diagnostics.unsubscribe('undici:client:beforeConnect', onConnect);
    JSON.parse = parse;
  }
  expect(cursors).toHaveLength(3);
  let onTheWire = 0;
  for (const [i, cursor] of cursors.entries()) {
    const sent = events.indexOf(`sent ${cursor}`);
    const asked = events.indexOf(`sent ${i === 0 ? 'start' : cursors[i - 1]}`);
    expect(sent, events.join(', ')).toBeGreaterThan(-1);
    const connected = events.slice(asked + 1, sent).includes('connect');
    if (sent < events.indexOf(`parse ${cursor}`)) onTheWire++;
    else expect(connected, `page after ${cursor} was sent after its parse without a connect: ${events.join(', ')}`).toBe(true);
  }
  expect(onTheWire, events.join(', ')).toBeGreaterThan(0);
});
