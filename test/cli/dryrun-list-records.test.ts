/**
 * `ferry dryrun`'s `nango.listRecords(model)` reads what the host holds, as a deployed run does:
 * the host's live records for the connection (page after page of GET /records), each replaced
 * by this run's own save of it or left out when this run deleted it, then the records this run
 * added. A whole host on real Postgres, a real provider server, the real runtime; the host's rows
 * stay as they were.
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
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

// In Nango's style: what the sync held before this run, then the provider's items saved (one
// renamed, one new), the one the provider dropped deleted, and what the sync holds after.
const SYNC = `
import { createSync } from 'nango';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'reconciles items against what the sync already holds',
  frequency: 'every day',
  autoStart: false,
  syncType: 'full',
  models: { Item, Listing: z.object({ id: z.string(), entries: z.array(z.string()) }) },
  exec: async (nango) => {
    const held = [];
    for await (const item of nango.listRecords('Item')) held.push(item.id);
    const { data } = await nango.get({ endpoint: '/items' });
    await nango.batchSave(data.items, 'Item');
    const gone = held.filter((id) => !data.items.some((item) => item.id === id));
    if (gone.length > 0) await nango.batchDelete(gone.map((id) => ({ id })), 'Item');
    const after = [];
    for await (const item of nango.listRecords('Item')) after.push(item.id + '=' + item.name);
    await nango.batchSave([{ id: 'before', entries: held }, { id: 'after', entries: after }], 'Listing');
  },
});`;

/** More than two of the host's pages (100 records each) and of listRecords' pages. */
const HELD = 250;
const id = (i: number) => `item-${String(i).padStart(3, '0')}`;
let items = Array.from({ length: HELD }, (_, i) => ({ id: id(i), name: `n${i}` }));
let ferry: TestFerry;
let provider: Server;
let runtime: Runtime;
let dir: string;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  provider = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ items }));
  });
  await new Promise<void>((ok) => provider.listen(0, '127.0.0.1', ok));
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/shop', { base_url: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'shop-held', provider: 'shop' })).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'ferry-dryrun-list-'));
  await mkdir(join(dir, 'shop/syncs'), { recursive: true });
  await writeFile(join(dir, 'shop/syncs/items.ts'), SYNC);
  await deploySources(ferry, { 'shop/syncs/items.ts': SYNC });
  await ferry.api.post('/syncs/items/trigger', { connection_id: 'shop-held' });
  expect(await waitForRun(ferry.api, 'shop-held', 'items', '0', 90_000)).toMatchObject({ status: 'succeeded' });
  // Since that run: item-007 is gone, item-003 renamed, item-250 new.
  items = [...items.filter((item) => item.id !== id(7)).map((item) => (item.id === id(3) ? { ...item, name: 'renamed' } : item)), { id: id(HELD), name: 'new' }];
}, 150_000);

afterAll(async () => {
  await runtime?.close();
  await ferry?.close();
  await new Promise((done) => provider?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("listRecords reads the host's records, with the dry run's own saves and deletes applied, and writes nothing", async () => {
  const rows = () => ferry.db.sql<{ model: string; id: string; data: unknown; updated_at: Date; deleted: boolean }[]>`select model, id, data, updated_at, deleted_at is not null as deleted from records order by model, id`;
  const before = await rows();
  expect(before.filter((r) => !r.deleted).length).toBe(HELD + 2);

  const run = await dryRun({ name: 'items', connectionId: 'shop-held', dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime, full: true });
  expect(run.result).toMatchObject({ ok: true });
  const listing = (name: string) => (run.models.get('Listing')!.records.get(name) as { entries: string[] }).entries;
  // Every record the host holds, each once, in the host's order.
  expect(listing('before')).toEqual(Array.from({ length: HELD }, (_, i) => id(i)));
  // After the run's writes: item-007 deleted, item-003 as this run saved it, item-250 added once.
  const after = listing('after');
  expect(after).toHaveLength(HELD);
  expect(new Set(after).size).toBe(HELD);
  expect(after).not.toContain(`${id(7)}=n7`);
  expect(after).toContain(`${id(3)}=renamed`);
  expect(after).toContain(`${id(0)}=n0`);
  expect(after.at(-1)).toBe(`${id(HELD)}=new`);
  expect(run.models.get('Item')!.deletedIds).toEqual([id(7)]);

  // The host's rows are exactly as before the dry run.
  expect(await rows()).toEqual(before);
}, 120_000);
