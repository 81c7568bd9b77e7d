/**
 * A sync run tells the app of its changes when its environment had a webhook URL as the run
 * started (host/sync/run-sync.ts reads it with the run's other reads, and only then the models'
 * cursors the webhook carries): a run under way when the URL is set sends none, the next one
 * does, with the cursor to read its changes from. The deliveries are written in the settle's
 * transaction, so they are counted once the run is settled; a real provider server and a real
 * receiver of the app's webhooks.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readAll, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

let ferry: TestFerry;
let provider: ItemsProvider;
let app: Server;
const received: Array<{ run_id: string; cursor: string; counts: { updated: number } }> = [];

beforeAll(async () => {
  provider = await startItemsProvider(3);
  app = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.end();
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  ferry = await startTestFerry();
  await deployProviderConnection(ferry, { provider: 'urlp', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC }, connectionId: 'url-1' });
  expect(await firstRunOf(ferry, 'url-1', 'items')).toMatchObject({ status: 'succeeded', counts: { added: 3 } });
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
  await new Promise((resolve) => app?.close(resolve));
});

const deliveriesOf = async (runId: string) =>
  (await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where run_id = ${runId}`)[0]!.n;

test('a run under way when the webhook URL is set sends no webhook; the next run sends one with its cursor', async () => {
  for (const id of provider.items.keys()) provider.put(id, `second ${id}`);
  const page = provider.holdPage('');
  const before = (await ferry.api.get('/runs?connection_id=url-1&sync=items&limit=1')).body.runs[0].id as string;
  expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'url-1' })).status).toBe(202);
  await waitFor('the run to ask for its page', async () => (page.arrived() ? true : undefined), 30_000);
  expect((await ferry.api.put('/environment/settings', { webhook_url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/hook` })).status).toBe(200);
  page.release();
  const underWay = await waitForRun(ferry.api, 'url-1', 'items', before, 30_000);
  expect(underWay).toMatchObject({ status: 'succeeded', counts: { updated: 3 } });
  expect(await deliveriesOf(underWay.id)).toBe(0);

  for (const id of provider.items.keys()) provider.put(id, `third ${id}`);
  expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'url-1' })).status).toBe(202);
  const next = await waitForRun(ferry.api, 'url-1', 'items', underWay.id, 30_000);
  expect(next).toMatchObject({ status: 'succeeded', counts: { updated: 3 } });
  expect(await deliveriesOf(next.id)).toBe(1);
  const event = await waitFor('the webhook of the next run', async () => received.find((e) => e.run_id === String(next.id)), 30_000);
  expect(event.counts.updated).toBe(3);
  // The cursor it carries is where the run's changes begin: reading from it returns exactly them.
  const { records } = await readAll(ferry.api, 'url-1', 'Item', event.cursor);
  expect(records.map((r: { name: string }) => r.name).sort()).toEqual([...provider.items.keys()].map((id) => `third ${id}`).sort());
  expect(received.filter((e) => e.run_id === String(underWay.id))).toEqual([]);
}, 120_000);
