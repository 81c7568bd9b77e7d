/**
 * What the `ferry dryrun` unseen-records tests share: a whole host on real Postgres behind a
 * counting HTTP proxy (which routes the CLI used, and what they answered), provider shop on a
 * real server answering every item in one page (`items`, which a test changes as it goes), and
 * one sync deployed and written to a scripts folder for `ferry dryrun` to bundle.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.ts';
import { deploySources, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

/**
 * The sync these tests dry-run: every item from GET /items, saved in pages of 1,000 between
 * trackDeletesStart and trackDeletesEnd, `walks` times over (each walk's end weighs the unseen).
 */
export function walkingSync(walks: number): string {
  const walk = `
    await nango.trackDeletesStart('Item');
    for (let i = 0; i < data.items.length; i += 1000) await nango.batchSave(data.items.slice(i, i + 1000), 'Item');
    await nango.trackDeletesEnd('Item');`;
  return `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'walks every item, tracking deletes, ${walks === 1 ? 'once' : `${walks} times`}',
  frequency: 'every day',
  autoStart: false,
  syncType: 'full',
  models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get({ endpoint: '/items' });${walk.repeat(walks)}
  },
});`;
}

export interface ShopHost {
  ferry: TestFerry;
  /** In front of the host: the URL to give the CLI. */
  proxy: CountingProxy;
  /** The scripts folder holding shop/syncs/items.ts. */
  dir: string;
  /** What the provider answers GET /items with now. */
  items: Array<{ id: string }>;
  close(): Promise<void>;
}

export async function startShopHost(itemsSync: string): Promise<ShopHost> {
  const provider = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ items: shop.items }));
  });
  await new Promise<void>((ok) => provider.listen(0, '127.0.0.1', ok));
  const ferry = await startTestFerry();
  const proxy = await startCountingProxy(ferry.url);
  const dir = await mkdtemp(join(tmpdir(), 'ferry-shop-scripts-'));
  const shop: ShopHost = {
    ferry, proxy, dir, items: [],
    async close() {
      await ferry.close();
      await proxy.close();
      await new Promise((done) => provider.close(done));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    const providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    expect((await ferry.api.put('/providers/shop', { base_url: providerUrl, auth: { type: 'none' } })).status).toBe(200);
    await mkdir(join(dir, 'shop/syncs'), { recursive: true });
    await writeFile(join(dir, 'shop/syncs/items.ts'), itemsSync);
    await deploySources(ferry, { 'shop/syncs/items.ts': itemsSync });
    return shop;
  } catch (err) {
    await shop.close();
    throw err;
  }
}
