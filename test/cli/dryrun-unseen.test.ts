/**
 * `ferry dryrun`'s trackDeletesEnd weighs the host's records without reading them all: one
 * POST /records/unseen with the ids the walk saw answers how many live records it did not see
 * and which, where it used to page every record of the model over GET /records at every call.
 * Through a counting HTTP proxy in front of a whole host on real Postgres, against a real
 * provider server; the host's rows stay as they were.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'walks every item, tracking deletes, twice',
  frequency: 'every day',
  autoStart: false,
  syncType: 'full',
  models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get({ endpoint: '/items' });
    await nango.trackDeletesStart('Item');
    await nango.batchSave(data.items, 'Item');
    await nango.trackDeletesEnd('Item');
    await nango.trackDeletesStart('Item');
    await nango.batchSave(data.items, 'Item');
    await nango.trackDeletesEnd('Item');
  },
});`;

const COUNT = 3_000;
let ferry: TestFerry;
let provider: Server;
let proxy: CountingProxy;
let items = Array.from({ length: COUNT }, (_, i) => `item-${String(i).padStart(5, '0')}`);
let runtime: Runtime;
let dir: string;
const logger = createLogger({ level: 'silent' });

const listen = async (server: Server) => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  provider = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ items: items.map((id) => ({ id })) }));
  });
  const providerUrl = await listen(provider);
  ferry = await startTestFerry();
  proxy = await startCountingProxy(ferry.url);
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/shop', { base_url: providerUrl, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'shop-big', provider: 'shop' })).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'ferry-dryrun-unseen-'));
  await mkdir(join(dir, 'shop/syncs'), { recursive: true });
  await writeFile(join(dir, 'shop/syncs/items.ts'), SYNC);
  await deploySources(ferry, { 'shop/syncs/items.ts': SYNC });
  await ferry.api.post('/syncs/items/trigger', { connection_id: 'shop-big' });
  expect(await waitForRun(ferry.api, 'shop-big', 'items', '0', 60_000)).toMatchObject({ status: 'succeeded' });
  // Three items are gone from the provider: a full walk now would delete them.
  items = items.filter((id) => !['item-00007', 'item-01500', 'item-02999'].includes(id));
}, 120_000);
afterAll(async () => {
  await runtime?.close();
  await ferry?.close();
  await proxy?.close();
  await new Promise((done) => provider?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('trackDeletesEnd asks the host only for the records the walk did not see, never pages the model', async () => {
  const [before] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where deleted_at is null`;
  expect(before!.n).toBe(COUNT);
  proxy.requests.length = 0;
  const requests = () => proxy.requests.map((r) => r.route);
  const run = await dryRun({ name: 'items', connectionId: 'shop-big', dir, url: proxy.url, key: TEST_SECRET_KEY, logger, runtime, full: true });
  expect(run.result).toMatchObject({ ok: true });
  const seen = run.models.get('Item')!;
  // The first trackDeletesEnd deletes the three; the second finds nothing more (they are gone).
  expect(seen.deleted).toBe(3);
  expect([...seen.deletedIds].sort()).toEqual(['item-00007', 'item-01500', 'item-02999']);
  expect(requests().filter((r) => r === 'POST /records/unseen')).toHaveLength(2);
  expect(requests().filter((r) => r.startsWith('GET /records'))).toEqual([]);
  const [after] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where deleted_at is null`;
  expect(after!.n).toBe(COUNT);
}, 120_000);

test('POST /records/unseen: an exact count beyond the ids it lists; bad input is a 400 naming the field, an unknown connection a 404', async () => {
  const some = await ferry.api.post('/records/unseen', { connection_id: 'shop-big', model: 'Item', seen: ['item-00000'], limit: 2 });
  expect(some.status).toBe(200);
  expect(some.body).toEqual({ count: COUNT - 1, ids: ['item-00001', 'item-00002'] });
  const none = await ferry.api.post('/records/unseen', { connection_id: 'shop-big', model: 'Nothing', seen: [] });
  expect(none.body).toEqual({ count: 0, ids: [] });
  const bad = await ferry.api.post('/records/unseen', { connection_id: 'shop-big', model: 'Item', seen: 'item-1' });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('seen');
  const tooMany = await ferry.api.post('/records/unseen', { connection_id: 'shop-big', model: 'Item', seen: [], limit: 1_000_000 });
  expect(tooMany.status).toBe(400);
  expect(JSON.stringify(tooMany.body)).toContain('limit');
  const unknown = await ferry.api.post('/records/unseen', { connection_id: 'nope', model: 'Item', seen: [] });
  expect(unknown.status).toBe(404);
});
