/**
 * Record ids up to CAPS.recordIdBytes (1,024) long, end to end: a script saves them (an empty id
 * is rejected by name), a reader asks for them by id (GET /records?ids=, POST /records/unseen),
 * and `ferry dryrun` — the binary — weighs a walk whose seen ids are too many bytes for one POST
 * /records/unseen: the host answers 413 and the CLI pages GET /records instead. A whole host on
 * real Postgres behind a counting HTTP proxy, a real provider server; each attempt has its own
 * connection.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { API_LIMITS } from '../../host/api/limits.ts';
import { CAPS } from '../../runtime/caps.ts';
import { idForThisAttempt, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startShopHost, walkingSync, type ShopHost } from './shop-host.ts';

const REPO = resolve(import.meta.dirname, '../..');

/** A 1,000-character id: the store keys on ids this long (under CAPS.recordIdBytes). */
const longId = (n: number) => `${'i'.repeat(994)}${String(n).padStart(6, '0')}`;
/** Enough long ids that the seen list is over the request body limit. */
const WALKED = Math.ceil(API_LIMITS.bodyBytes / 1_000) + 500;

let shop: ShopHost;
let ferry: TestFerry;

beforeAll(async () => {
  shop = await startShopHost(walkingSync(1));
  ({ ferry } = shop);
}, 120_000);
afterAll(async () => {
  await shop?.close();
});

/** A connection whose one real run stored three long ids (and rejected an empty one). */
async function connectionWithLongIds() {
  const connectionId = idForThisAttempt('shop-long');
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'shop' })).status).toBe(201);
  shop.items = [{ id: longId(0) }, { id: longId(1) }, { id: longId(2) }, { id: '' }];
  const { body: before } = await ferry.api.get(`/runs?connection_id=${connectionId}&sync=items&limit=1`);
  await ferry.api.post('/syncs/items/trigger', { connection_id: connectionId });
  const run = await waitForRun(ferry.api, connectionId, 'items', before.runs[0]?.id ?? '0', 60_000);
  expect(run).toMatchObject({ status: 'succeeded', counts: { added: 3, rejected: 1 } });
  return { connectionId, runId: run.id as string };
}

test('a script saves 1,000-character ids and has an empty one rejected by name; readers name them by id', async () => {
  const { connectionId, runId } = await connectionWithLongIds();
  const { body: rejected } = await ferry.api.get(`/runs/${runId}/rejected`);
  expect(rejected.rejected).toEqual([expect.objectContaining({ model: 'Item', record_id: '', reason: 'id: a record id must not be empty' })]);

  const byId = await ferry.api.get(`/records?connection_id=${connectionId}&model=Item&ids=${longId(1)}`);
  expect(byId.status, JSON.stringify(byId.body)).toBe(200);
  expect(byId.body.records.map((r: { id: string }) => r.id)).toEqual([longId(1)]);

  const unseen = await ferry.api.post('/records/unseen', { connection_id: connectionId, model: 'Item', seen: [longId(0), 'x'.repeat(CAPS.recordIdBytes)] });
  expect(unseen.status, JSON.stringify(unseen.body)).toBe(200);
  expect(unseen.body).toEqual({ count: 2, ids: [longId(1), longId(2)] });

  for (const [seen, message] of [[['x'.repeat(CAPS.recordIdBytes + 1)], `over the ${CAPS.recordIdBytes}-byte cap on a record id`], [[''], 'a record id is not empty']] as const) {
    const refused = await ferry.api.post('/records/unseen', { connection_id: connectionId, model: 'Item', seen });
    expect(refused.status).toBe(400);
    expect(refused.body.error.issues).toEqual([{ path: ['body', 'seen', '0'], message }]);
  }
  const tooLong = await ferry.api.get(`/records?connection_id=${connectionId}&model=Item&ids=${'x'.repeat(CAPS.recordIdBytes + 1)}`);
  expect(tooLong.status).toBe(400);
  expect(tooLong.body.error.issues).toEqual([{ path: ['query', 'ids', '0'], message: `over the ${CAPS.recordIdBytes}-byte cap on a record id` }]);
}, 120_000);

test('ferry dryrun: seen ids over the body limit are a 413 from the host, and the walk is weighed page by page instead', async () => {
  const { connectionId } = await connectionWithLongIds();
  // Gone from the provider: longId(0). New: thousands more, so the seen list is over 8 MiB.
  shop.items = Array.from({ length: WALKED }, (_, i) => ({ id: longId(i + 1) }));
  const [before] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where deleted_at is null`;
  shop.proxy.requests.length = 0;

  const { code, stdout, stderr } = await promisify(execFile)(process.execPath, [
    join(REPO, 'cli/bin.ts'), 'dryrun', 'items', '--connection', connectionId, '--full', '--json', '--dir', shop.dir, '--url', shop.proxy.url, '--key', TEST_SECRET_KEY,
  ], { cwd: REPO, maxBuffer: 256 * 1024 * 1024 }).then(
    (out) => ({ code: 0, ...out }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
  expect(code, `${stderr}\n${stdout.slice(0, 2_000)}`).toBe(0);
  const result = JSON.parse(stdout) as { ok: boolean; models: { Item: { count: number; deleted: number; deletedIds: string[] } } };
  expect(result.ok).toBe(true);
  expect(result.models.Item.count).toBe(WALKED);
  expect(result.models.Item.deletedIds).toEqual([longId(0)]);
  expect(shop.proxy.requests.filter((r) => r.route === 'POST /records/unseen')).toEqual([{ route: 'POST /records/unseen', status: 413 }]);
  expect(shop.proxy.requests.filter((r) => r.route === 'GET /records').length).toBeGreaterThan(0);
  // A dry run writes nothing.
  const [after] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where deleted_at is null`;
  expect(after!.n).toBe(before!.n);
}, 180_000);
