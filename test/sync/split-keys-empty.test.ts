/**
 * A key split whose `split.partitions` lists no keys (an account with zero repos) is a pass that
 * succeeds with zero parts: lastSyncDate moves, and a full refresh's deletes apply as for a pass
 * that saw nothing, under the mass-delete guard. A whole host on real Postgres against a real
 * provider server.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, idForThisAttempt, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, startRepos, type ReposProvider } from './repos-provider.ts';

let ferry: TestFerry;
let provider: ReposProvider;
const CONN = 'repos-empty';
// The same sync with the mass-delete guard turned off, writing its own model.
const UNGUARDED_SYNC = KEY_SPLIT_SYNC.replace('retries: 1,', 'retries: 1, massDeleteGuard: false,')
  .replace('models: { Issue }', 'models: { UIssue: Issue }').replace("'Issue');", "'UIssue');");

beforeAll(async () => {
  provider = await startRepos(2, 3, 20);
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2', FERRY_SYNC_RETRY_BASE_MS: '200' });
  await deploySources(ferry, { 'reposp/syncs/issues.ts': KEY_SPLIT_SYNC, 'reposp/syncs/unguarded.ts': UNGUARDED_SYNC });
  expect((await ferry.api.put('/providers/reposp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const state = async (sync: string, conn = CONN) => (await ferry.api.get(`/syncs/${sync}/status?connection_id=${conn}`)).body;
const live = async (model: string, conn = CONN) => (await readAll(ferry.api, conn, model)).records.filter((r) => r._ferry_metadata.deleted_at === null);
const passAfter = (sync: string, after: string | null, conn = CONN) => waitFor(`${sync}'s pass to succeed`, async () => {
  const s = await state(sync, conn);
  return s.last_sync_date !== null && s.last_sync_date !== after && s.split_pass === null ? s : undefined;
}, 120_000);
const lastRun = async (sync: string, conn = CONN) => (await ferry.api.get(`/runs?connection_id=${conn}&sync=${sync}&limit=1`)).body.runs[0];

test('a first sync of an account with nothing to split succeeds with zero parts and moves lastSyncDate', async () => {
  const conn = idForThisAttempt('repos-none'); // a connection of its own on each attempt
  provider.listing = 'none';
  expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'reposp' })).status).toBe(201);
  const done = await passAfter('issues', null, conn);
  const run = await lastRun('issues', conn);
  expect(run).toMatchObject({ status: 'succeeded', part: null, error: null, model_counts: { Issue: { added: 0, updated: 0, deleted: 0 } } });
  expect(Date.parse(done.last_sync_date)).toBe(Date.parse(run.started_at));
  const logs = (await ferry.api.get(`/runs/${run.id}/logs`)).body.logs.map((l: { message: string }) => l.message);
  expect(logs).toContain('split.partitions returned no keys: nothing to split, the pass succeeds with zero parts');
  expect(await live('Issue', conn)).toEqual([]);
  const [parts] = await ferry.db.sql<{ count: number }[]>`select count(*)::int as count from sync_parts`;
  expect(parts!.count).toBe(0);
});

test('a full refresh that lists no keys deletes what the pass did not see, under the mass-delete guard', async () => {
  const conn = idForThisAttempt(CONN); // a connection of its own on each attempt
  provider.listing = 'ok';
  expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'reposp' })).status).toBe(201);
  const first = await passAfter('issues', null, conn);
  const firstUnguarded = await passAfter('unguarded', null, conn);
  expect((await live('Issue', conn)).length).toBe(6);
  expect((await live('UIssue', conn)).length).toBe(6);

  provider.listing = 'none';
  for (const sync of ['issues', 'unguarded']) expect((await ferry.api.post(`/syncs/${sync}/trigger`, { connection_id: conn, full: true })).status).toBe(202);
  // Without a guard, the pass that saw nothing deletes every record, and lastSyncDate moves.
  const second = await passAfter('unguarded', firstUnguarded.last_sync_date, conn);
  expect(Date.parse(second.last_sync_date)).toBeGreaterThan(Date.parse(firstUnguarded.last_sync_date));
  expect(await live('UIssue', conn)).toEqual([]);
  expect(await lastRun('unguarded', conn)).toMatchObject({ status: 'succeeded', counts: { deleted: 6 }, model_counts: { UIssue: { added: 0, updated: 0, deleted: 6 } }, warnings: [] });

  // With the default guard (deleting every record trips it), the pass succeeds but the records stay, held for review.
  await passAfter('issues', first.last_sync_date, conn);
  expect((await live('Issue', conn)).length).toBe(6);
  expect(await lastRun('issues', conn)).toMatchObject({ status: 'succeeded', counts: { deleted: 0 }, warnings: [{ code: 'DELETES_HELD', model: 'Issue', held: 6, live: 6 }] });
  const held = (await ferry.api.get(`/syncs/issues/held-deletes?connection_id=${conn}`));
  expect(JSON.stringify(held.body)).toContain('"count":6');
});
