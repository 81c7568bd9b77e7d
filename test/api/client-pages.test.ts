/**
 * @ferry/client against a real host: the records iterator asks for the next page while the app
 * handles the current one (the host and Postgres build it meanwhile), and leaving the loop cancels
 * that page. The client's fetch is the real one, wrapped only to see what it asked for.
 */
import diagnostics from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

test('the next page is on the wire before the app is handed this one', async () => {
  // The client's head start only overlaps if the request for the next page has left before the app
  // works on this page: `fetch()` returns at once, but undici puts the request on its socket a few
  // promise turns later, and an app that handles a page synchronously would hold it back. Seen here
  // from the inside: undici reports the moment it writes a request's headers and when it opens a
  // connection (diagnostics_channel). A request that needs a new connection waits for the connect
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
  diagnostics.subscribe('undici:client:sendHeaders', onSend);
  diagnostics.subscribe('undici:client:beforeConnect', onConnect);
  const cursors: string[] = [];
  try {
    for await (const page of client.recordPages({ connectionId, model: 'Item', limit: 10 })) {
      events.push(`handed ${page.next_cursor}`);
      cursors.push(page.next_cursor!);
    }
  } finally {
    diagnostics.unsubscribe('undici:client:sendHeaders', onSend);
    diagnostics.unsubscribe('undici:client:beforeConnect', onConnect);
  }
  expect(cursors).toHaveLength(3);
  let onTheWire = 0;
  for (const cursor of cursors) {
    const sent = events.indexOf(`sent ${cursor}`);
    const handed = events.indexOf(`handed ${cursor}`);
    expect(sent, events.join(', ')).toBeGreaterThan(-1);
    if (sent < handed) onTheWire++;
    else expect(events.slice(handed, sent).includes('connect'), `page after ${cursor} was sent after the app had its page, without a connect: ${events.join(', ')}`).toBe(true);
  }
  expect(onTheWire, events.join(', ')).toBeGreaterThan(0);
});

/**
 * A real HTTP server on 127.0.0.1 standing in for the host: it serves `body` for GET /records,
 * the first `split` bytes at once and the rest only once `release` resolves.
 */
async function pageServer(body: Buffer, split: number, release: () => Promise<unknown>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    expect(new URL(req.url!, 'http://x').pathname).toBe('/records');
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.write(body.subarray(0, split));
    void release().then(() => res.end(body.subarray(split)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** The bytes the host sends for a page of `count` Items. */
async function hostPage(base: string, count: number): Promise<Buffer> {
  const connectionId = await connectionWithItems(base, count);
  const response = await fetch(`${ferry.url}/records?connection_id=${connectionId}&model=Item&limit=${count}`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

test('a page\'s records are parsed as its bytes arrive, each on its own, before its last byte', async () => {
  const body = await hostPage('client-pages-stream', 40);
  // The host's framing: one record per line, the page still one JSON document.
  const text = body.toString('utf8');
  expect(text.startsWith('{"records":[\n{')).toBe(true);
  expect(text.split('\n')).toHaveLength(40 + 2);
  const expected = JSON.parse(text) as { records: unknown[]; next_cursor: string };

  // JSON.parse tells which texts the client parses; the server holds the page's second half back
  // until the client has parsed records of the first (or 60 s have passed: then this fails).
  const parsed: string[] = [];
  const parse = JSON.parse;
  JSON.parse = ((input: string, reviver?: (key: string, value: unknown) => unknown) => {
    if (typeof input === 'string' && input.includes('"_ferry_metadata"')) parsed.push(input);
    return parse(input, reviver);
  }) as typeof JSON.parse;
  let parsedBeforeRest = 0;
  const server = await pageServer(body, Math.floor(body.length / 2), async () => {
    const deadline = Date.now() + 60_000;
    while (parsed.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    parsedBeforeRest = parsed.length;
  });
  try {
    const client = createFerryClient({ url: server.url, secretKey: TEST_SECRET_KEY });
    const page = await client.recordsPage({ connectionId: 'any', model: 'Item', limit: 40 });
    expect(page).toEqual(expected);
  } finally {
    JSON.parse = parse;
    await server.close();
  }
  expect(parsedBeforeRest).toBeGreaterThan(0);
  // Each record alone, never the whole page.
  expect(parsed).toHaveLength(40);
  expect(parsed.every((input) => !input.startsWith('{"records"'))).toBe(true);
});

test('a page framed otherwise (re-encoded on its way) is parsed whole; a framed page cut short is an error', async () => {
  const body = await hostPage('client-pages-other', 12);
  const expected = JSON.parse(body.toString('utf8')) as unknown;
  const now = async () => {};
  for (const reencoded of [JSON.stringify(expected), JSON.stringify(expected, null, 2)]) {
    const server = await pageServer(Buffer.from(reencoded), 5, now);
    try {
      const client = createFerryClient({ url: server.url, secretKey: TEST_SECRET_KEY });
      expect(await client.recordsPage({ connectionId: 'any', model: 'Item' })).toEqual(expected);
    } finally {
      await server.close();
    }
  }
  // The host's framing without its last line (next_cursor): not taken for a whole page.
  const cut = body.subarray(0, body.lastIndexOf('\n'));
  const server = await pageServer(cut, 5, now);
  try {
    const client = createFerryClient({ url: server.url, secretKey: TEST_SECRET_KEY });
    await expect(client.recordsPage({ connectionId: 'any', model: 'Item' })).rejects.toThrow(SyntaxError);
  } finally {
    await server.close();
  }
});
