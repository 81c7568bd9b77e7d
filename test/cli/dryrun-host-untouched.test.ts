/**
 * `ferry dryrun` against a real host writes nothing there: after a real run left records, a
 * sync state, metadata and runs, dry runs of a script that saves, updates, deletes, tracks
 * deletes, checkpoints and changes metadata (incremental, --full and --checkpoint) leave every
 * table of the connection exactly as it was — while their own output shows what the script did.
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

const SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'writes everything a sync can write',
  frequency: 'every day',
  autoStart: false,
  syncType: 'incremental',
  models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    const { runs = 0 } = await nango.getMetadata();
    const { data } = await nango.get({ endpoint: '/items' });
    await nango.trackDeletesStart('Item');
    await nango.batchSave(data.items.map((i: { id: string }) => ({ id: i.id, name: 'run ' + runs })), 'Item');
    await nango.trackDeletesEnd('Item');
    await nango.batchUpdate([{ id: 'a', name: 'updated' }], 'Item');
    await nango.batchDelete([{ id: 'b' }], 'Item');
    await nango.saveCheckpoint({ after: 'z' });
    await nango.updateMetadata({ runs: Number(runs) + 1 });
  },
});`;

let ferry: TestFerry;
let server: Server;
let providerUrl: string;
let items = ['a', 'b', 'c', 'd'];
let runtime: Runtime;
let dir: string;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ items: items.map((id) => ({ id })) }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  providerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/shop', { base_url: providerUrl, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'shop-1', provider: 'shop', metadata: { region: 'eu' } })).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'ferry-dryrun-untouched-'));
  await mkdir(join(dir, 'shop/syncs'), { recursive: true });
  await writeFile(join(dir, 'shop/syncs/items.ts'), SYNC);
  await deploySources(ferry, { 'shop/syncs/items.ts': SYNC });
  await ferry.api.post('/syncs/items/trigger', { connection_id: 'shop-1' });
  expect(await waitForRun(ferry.api, 'shop-1', 'items')).toMatchObject({ status: 'succeeded' });
  // The provider changes: a dry run now would save, update and delete records.
  items = ['a', 'c', 'e'];
}, 120_000);
afterAll(async () => {
  await runtime?.close();
  await ferry?.close();
  await new Promise((done) => server?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every row the host keeps for the connection, as text (rate-limit buckets aside: a dry run's calls do count there). */
async function hostState() {
  const sql = ferry.db.sql;
  const [connection] = await sql`select id, metadata, updated_at from connections where connection_id = 'shop-1'`;
  const id = connection!.id as string;
  const tables = {
    connection,
    records: await sql`select * from records where connection_id = ${id} order by model, id`,
    rejected: await sql`select * from rejected_records where connection_id = ${id} order by seq`,
    syncState: await sql`select * from sync_state where connection_id = ${id}`,
    seen: await sql`select * from sync_seen where connection_id = ${id} order by model, id`,
    held: await sql`select * from held_deletes where connection_id = ${id} order by model, id`,
    runs: await sql`select * from runs where connection_id = ${id} order by id`,
    logs: await sql`select l.* from run_logs l join runs r on r.id = l.run_id where r.connection_id = ${id} order by l.run_id, l.seq`,
    scripts: await sql`select id, active, hash from scripts order by id`,
  };
  return JSON.stringify(tables);
}

test.each([
  ['incremental', {}],
  ['--full', { full: true }],
  ['--checkpoint', { checkpoint: { after: 'm' } }],
])('a dry run (%s) writes nothing on the host, while showing what the script did', async (_label, options) => {
  const before = await hostState();
  const run = await dryRun({ name: 'items', connectionId: 'shop-1', dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime, ...options });
  expect(run.result).toMatchObject({ ok: true });
  const seen = run.models.get('Item')!;
  expect([...seen.records.keys()].sort()).toEqual(['a', 'c', 'e']);
  expect(seen.records.get('a')).toEqual({ id: 'a', name: 'updated' });
  // trackDeletesEnd weighs the host's records: b and d were not seen, so the host would delete them (b once).
  expect([...seen.deletedIds].sort()).toEqual(['b', 'd']);
  expect(run.stateWrites).toEqual([{ kind: 'checkpoint', value: { after: 'z' } }, { kind: 'metadata', value: { region: 'eu', runs: 2 } }]);
  expect(await hostState()).toEqual(before);
}, 120_000);
