/**
 * Deletes only when asked, only what the sync wrote, never a whole model by accident: through a
 * whole host (API, scheduler, runtime) on real Postgres against a real provider server.
 * - a full sync without `trackDeletes` deletes nothing when the provider answers an empty list;
 * - two syncs writing one model: deploy warns naming both; each deletes only records it wrote,
 *   and a record both wrote is deleted only once neither still sees it;
 * - the mass-delete guard holds a pass that would delete every record: the run succeeds with a
 *   DELETES_HELD warning (API, `ferry runs`, the app webhook); discard keeps the records, apply
 *   (`ferry held-deletes --apply`) deletes them.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRecordStore } from '../../host/store/records.ts';
import { saveBatchOf, silentLogger } from '../store/fixtures.ts';
import { deploySources, idForThisAttempt, readAll, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const REPO = resolve(import.meta.dirname, '../..');

/** A full sync of /items; `keep` limits which ids it saves (two syncs then overlap). */
const fullSync = (options: { trackDeletes: boolean; keep?: string; guard?: string }) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'items',
  frequency: 'every 1 hour',
  syncType: 'full',
  ${options.trackDeletes ? 'trackDeletes: true,' : ''}
  ${options.guard ?? ''}
  models: { Item },
  exec: async (nango) => {
    const res = await nango.get<{ items: Array<z.infer<typeof Item>> }>({ endpoint: '/items', params: { limit: '1000' }, retries: 0 });
    const keep = (id: string) => ${options.keep ?? 'true'};
    await nango.batchSave(res.data.items.filter((i) => keep(i.id)), 'Item');
  },
});`;

let ferry: TestFerry;
let provider: ItemsProvider;
let deployed: Awaited<ReturnType<typeof deploySources>>;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300' });
  deployed = await deploySources(ferry, {
    'plainp/syncs/plain.ts': fullSync({ trackDeletes: false }),
    'twop/syncs/alpha.ts': fullSync({ trackDeletes: true, keep: "id <= '008'" }),
    'twop/syncs/beta.ts': fullSync({ trackDeletes: true, keep: "id >= '005'" }),
    'guardp/syncs/guarded.ts': fullSync({ trackDeletes: true }),
    'openp/syncs/unguarded.ts': fullSync({ trackDeletes: true, guard: 'massDeleteGuard: false,' }),
  });
  for (const name of ['plainp', 'twop', 'guardp', 'openp']) {
    expect((await ferry.api.put(`/providers/${name}`, { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  }
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const trigger = (sync: string, connectionId: string) => ferry.api.post(`/syncs/${sync}/trigger`, { connection_id: connectionId });
const live = async (connectionId: string) =>
  (await readAll(ferry.api, connectionId, 'Item')).records.filter((r) => r._ferry_metadata.deleted_at === null).map((r) => r.id).sort();
const allIds = () => [...provider.items.keys()].sort();

function restoreItems(count = 12) {
  provider.items.clear();
  for (let i = 1; i <= count; i++) provider.put(String(i).padStart(3, '0'));
}

describe('deletes only when asked', () => {
  test('a full sync without trackDeletes keeps every record when the provider answers an empty list', async () => {
    const connectionId = idForThisAttempt('plain-1'); // a connection of its own on each attempt
    restoreItems();
    expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'plainp' })).status).toBe(201);
    const first = await waitForRun(ferry.api, connectionId, 'plain', '0', 60_000);
    expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });

    provider.items.clear();
    await trigger('plain', connectionId);
    const second = await waitForRun(ferry.api, connectionId, 'plain', first.id, 60_000);
    expect(second).toMatchObject({ status: 'succeeded', full: true, counts: { added: 0, deleted: 0 }, warnings: [] });
    expect(await live(connectionId)).toHaveLength(12);
  }, 120_000);
});

describe('two syncs writing one model', () => {
  test('deploy warns naming both syncs', () => {
    expect(deployed.warnings).toEqual([expect.objectContaining({ code: 'MODEL_SHARED', provider: 'twop', model: 'Item', syncs: ['alpha', 'beta'] })]);
    expect(deployed.warnings[0]!.message).toMatch(/alpha and beta/);
  });

  test('each deletes only records it wrote; a record both wrote goes only when neither sees it', async () => {
    const connectionId = idForThisAttempt('two-1'); // a connection of its own on each attempt
    restoreItems();
    expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'twop' })).status).toBe(201);
    const alpha1 = await waitForRun(ferry.api, connectionId, 'alpha', '0', 60_000);
    const beta1 = await waitForRun(ferry.api, connectionId, 'beta', '0', 60_000);
    expect([alpha1.status, beta1.status]).toEqual(['succeeded', 'succeeded']);
    // Both first passes done; the second pass of each detects deletes.
    await trigger('alpha', connectionId);
    const alpha2 = await waitForRun(ferry.api, connectionId, 'alpha', alpha1.id, 60_000);
    await trigger('beta', connectionId);
    const beta2 = await waitForRun(ferry.api, connectionId, 'beta', beta1.id, 60_000);
    expect(alpha2).toMatchObject({ status: 'succeeded', counts: { deleted: 0 } });
    expect(beta2).toMatchObject({ status: 'succeeded', counts: { deleted: 0 } });
    expect(await live(connectionId)).toEqual(allIds());

    // 001 only alpha wrote, 006 both wrote, 010 only beta wrote: all three vanish upstream.
    for (const id of ['001', '006', '010']) provider.items.delete(id);
    await trigger('beta', connectionId);
    const beta3 = await waitForRun(ferry.api, connectionId, 'beta', beta2.id, 60_000);
    // beta deletes 010 only: 001 was never beta's, and alpha still sees nothing new about 006.
    expect(beta3).toMatchObject({ status: 'succeeded', counts: { deleted: 1 } });
    const afterBeta = await live(connectionId);
    expect(afterBeta).not.toContain('010');
    expect(afterBeta).toContain('001');
    expect(afterBeta).toContain('006');

    await trigger('alpha', connectionId);
    const alpha3 = await waitForRun(ferry.api, connectionId, 'alpha', alpha2.id, 60_000);
    // alpha deletes 001 (its own) and 006 (beta no longer sees it either).
    expect(alpha3).toMatchObject({ status: 'succeeded', counts: { deleted: 2 } });
    expect(await live(connectionId)).toEqual(allIds());
  }, 180_000);
});

describe('mass-delete guard', () => {
  let hook: Server;
  const received: any[] = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const put = await ferry.api.put('/environment/settings', { webhook_url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });
    expect(put.status).toBe(200);
  });
  afterAll(async () => {
    await ferry.api.put('/environment/settings', { webhook_url: null });
    await new Promise((r) => hook?.close(r));
  });

  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO });

  test('an empty answer holds the deletes: the run succeeds with a warning; discard keeps the records, apply deletes them', async () => {
    const connectionId = idForThisAttempt('guard-1'); // a connection of its own on each attempt
    restoreItems();
    expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'guardp' })).status).toBe(201);
    const first = await waitForRun(ferry.api, connectionId, 'guarded', '0', 60_000);
    expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });

    // The outage: the provider answers an empty list.
    provider.items.clear();
    await trigger('guarded', connectionId);
    const held = await waitForRun(ferry.api, connectionId, 'guarded', first.id, 60_000);
    expect(held).toMatchObject({ status: 'succeeded', counts: { deleted: 0 } });
    expect(held.warnings).toEqual([expect.objectContaining({ code: 'DELETES_HELD', model: 'Item', held: 12, live: 12 })]);
    expect(await live(connectionId)).toHaveLength(12);

    // The warning reaches `ferry runs` and the app's webhook.
    const runs = await cli('runs', '--connection', connectionId, '--sync', 'guarded');
    expect(runs.stdout).toMatch(new RegExp(`warning: run ${held.id} DELETES_HELD: 12 of 12 live Item records`));
    const event = await waitFor('the webhook of the held run', async () => received.find((e) => e.run_id === held.id));
    expect(event).toMatchObject({ sync_name: 'guarded', model: 'Item', counts: { deleted: 0 }, warnings: [expect.objectContaining({ code: 'DELETES_HELD', held: 12 })] });

    const listed = await ferry.api.get(`/syncs/guarded/held-deletes?connection_id=${connectionId}`);
    expect(listed.body.held).toEqual([expect.objectContaining({ model: 'Item', count: 12, run_id: held.id })]);

    // Discard: the records stay, nothing is held any more.
    expect((await ferry.api.post('/syncs/guarded/held-deletes/discard', { connection_id: connectionId })).body).toEqual({ discarded: 12 });
    expect((await ferry.api.get(`/syncs/guarded/held-deletes?connection_id=${connectionId}`)).body.held).toEqual([]);
    expect(await live(connectionId)).toHaveLength(12);

    // Still empty next time: held again; this time the operator applies them from the CLI.
    await trigger('guarded', connectionId);
    const heldAgain = await waitForRun(ferry.api, connectionId, 'guarded', held.id, 60_000);
    expect(heldAgain.warnings).toEqual([expect.objectContaining({ code: 'DELETES_HELD', held: 12 })]);
    const listedByCli = await cli('held-deletes', 'guarded', '-c', connectionId);
    expect(listedByCli.stdout).toMatch(/Item\s+12/);
    // Meanwhile 003 is written again (its cursor moves): applying keeps it.
    const [connection] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = ${connectionId}`;
    const store = createRecordStore({ sql: ferry.db.sql, logger: silentLogger, embedded: false });
    await store.saveBatch({ connectionId: connection!.id, batch: saveBatchOf('Item', [{ id: '003', name: 'written again' }]) });
    const applied = await cli('held-deletes', 'guarded', '-c', connectionId, '--apply');
    expect(applied.stdout).toContain('Item: 11 record(s) deleted');
    expect(await live(connectionId)).toEqual(['003']);
    const records = (await readAll(ferry.api, connectionId, 'Item')).records;
    expect(records.filter((r) => r.id !== '003').every((r) => r._ferry_metadata.last_action === 'deleted')).toBe(true);
    expect((await ferry.api.get(`/syncs/guarded/held-deletes?connection_id=${connectionId}`)).body.held).toEqual([]);
  }, 180_000);

  test('massDeleteGuard: false applies even a delete of everything', async () => {
    const connectionId = idForThisAttempt('open-1'); // a connection of its own on each attempt
    restoreItems();
    expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'openp' })).status).toBe(201);
    const first = await waitForRun(ferry.api, connectionId, 'unguarded', '0', 60_000);
    expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });
    provider.items.clear();
    await trigger('unguarded', connectionId);
    const second = await waitForRun(ferry.api, connectionId, 'unguarded', first.id, 60_000);
    expect(second).toMatchObject({ status: 'succeeded', counts: { deleted: 12 }, warnings: [] });
    expect(await live(connectionId)).toEqual([]);
  }, 120_000);

  test('bad input to the held-delete routes is a 4xx naming the field', async () => {
    const missing = await ferry.api.post('/syncs/guarded/held-deletes/apply', {});
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body.error)).toContain('connection_id');
    const unknown = await ferry.api.post('/syncs/guarded/held-deletes/apply', { connection_id: 'nope' });
    expect(unknown.status).toBe(404);
  });
});
