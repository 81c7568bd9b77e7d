/**
 * `ferry dryrun`'s trackDeletesEnd weighs the host's records without reading them all: one
 * POST /records/unseen with the ids the walk saw answers how many live records it did not see
 * and which, where it used to page every record of the model over GET /records at every call.
 * Through a counting HTTP proxy in front of a whole host on real Postgres, against a real
 * provider server; the host's rows stay as they were.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startShopHost, walkingSync, type ShopHost } from './shop-host.ts';

const COUNT = 3_000;
const ITEMS = Array.from({ length: COUNT }, (_, i) => ({ id: `item-${String(i).padStart(5, '0')}` }));
let shop: ShopHost;
let ferry: TestFerry;
let runtime: Runtime;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  shop = await startShopHost(walkingSync(2));
  ({ ferry } = shop);
  shop.items = ITEMS;
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.post('/connections', { connection_id: 'shop-big', provider: 'shop' })).status).toBe(201);
  await ferry.api.post('/syncs/items/trigger', { connection_id: 'shop-big' });
  expect(await waitForRun(ferry.api, 'shop-big', 'items', '0', 60_000)).toMatchObject({ status: 'succeeded' });
  // Three items are gone from the provider: a full walk now would delete them.
  shop.items = ITEMS.filter(({ id }) => !['item-00007', 'item-01500', 'item-02999'].includes(id));
}, 120_000);
afterAll(async () => {
  await runtime?.close();
  await shop?.close();
});

test('trackDeletesEnd asks the host only for the records the walk did not see, never pages the model', async () => {
  const [before] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where deleted_at is null`;
  expect(before!.n).toBe(COUNT);
  shop.proxy.requests.length = 0;
  const requests = () => shop.proxy.requests.map((r) => r.route);
  const run = await dryRun({ name: 'items', connectionId: 'shop-big', dir: shop.dir, url: shop.proxy.url, key: TEST_SECRET_KEY, logger, runtime, full: true });
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
