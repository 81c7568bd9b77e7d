/**
 * A key split whose `split.partitions` lists no keys (an account with zero repos) is a pass that
 * succeeds with zero parts: lastSyncDate moves, and a full refresh's deletes apply as for a pass
 * that saw nothing, under the mass-delete guard. A whole host on real Postgres against a real
 * provider server; each attempt has an environment, a connection and a repos server of its own
 * (startSplitHost).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { KEY_SPLIT_SYNC, reposSplit, startReposForTest } from './repos-provider.ts';
import { startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;
// The same sync with the mass-delete guard turned off, writing its own model.
const UNGUARDED_SYNC = KEY_SPLIT_SYNC.replace('retries: 1,', 'retries: 1, massDeleteGuard: false,')
  .replace('models: { Issue }', 'models: { UIssue: Issue }').replace("'Issue');", "'UIssue');");

beforeAll(async () => {
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

/** Both syncs (guarded and not) on a repos server of this attempt's own whose listing is set before the first passes. */
async function bothSyncs(base: string, listing: 'none' | 'ok') {
  const provider = await startReposForTest(2, 3, 20);
  provider.listing = listing;
  const setUp = reposSplit(provider.url);
  const env = await host.environment(base, { ...setUp, scripts: { ...setUp.scripts, 'syncs/unguarded.ts': UNGUARDED_SYNC } });
  const issues = await env.connect();
  // The unguarded sync on the same connection, seen through the helpers of its own name and model.
  const unguarded = host.connection(issues.api, issues.conn, { sync: 'unguarded', model: 'UIssue' });
  return { provider, issues, unguarded };
}

test('a first sync of an account with nothing to split succeeds with zero parts and moves lastSyncDate', async () => {
  const { issues: c } = await bothSyncs('repos-none', 'none');
  const done = await c.passDone();
  const run = (await c.api.get(`/runs?connection_id=${c.conn}&sync=issues&limit=1`)).body.runs[0];
  expect(run).toMatchObject({ status: 'succeeded', part: null, error: null, model_counts: { Issue: { added: 0, updated: 0, deleted: 0 } } });
  expect(Date.parse(done.last_sync_date)).toBe(Date.parse(run.started_at));
  const logs = (await c.api.get(`/runs/${run.id}/logs`)).body.logs.map((l: { message: string }) => l.message);
  expect(logs).toContain('split.partitions returned no keys: nothing to split, the pass succeeds with zero parts');
  expect(await c.live()).toEqual([]);
  expect(await c.parts()).toEqual([]);
});

test('a full refresh that lists no keys deletes what the pass did not see, under the mass-delete guard', async () => {
  const { provider, issues, unguarded } = await bothSyncs('repos-empty', 'ok');
  const lastRun = async (sync: string) => (await issues.api.get(`/runs?connection_id=${issues.conn}&sync=${sync}&limit=1`)).body.runs[0];
  const first = await issues.passDone();
  const firstUnguarded = await unguarded.passDone();
  expect((await issues.live()).length).toBe(6);
  expect((await unguarded.live()).length).toBe(6);

  provider.listing = 'none';
  for (const sync of ['issues', 'unguarded']) expect((await issues.api.post(`/syncs/${sync}/trigger`, { connection_id: issues.conn, full: true })).status).toBe(202);
  // Without a guard, the pass that saw nothing deletes every record, and lastSyncDate moves.
  const second = await unguarded.passDone(firstUnguarded.last_sync_date);
  expect(Date.parse(second.last_sync_date)).toBeGreaterThan(Date.parse(firstUnguarded.last_sync_date));
  expect(await unguarded.live()).toEqual([]);
  expect(await lastRun('unguarded')).toMatchObject({ status: 'succeeded', counts: { deleted: 6 }, model_counts: { UIssue: { added: 0, updated: 0, deleted: 6 } }, warnings: [] });

  // With the default guard (deleting every record trips it), the pass succeeds but the records stay, held for review.
  await issues.passDone(first.last_sync_date);
  expect((await issues.live()).length).toBe(6);
  expect(await lastRun('issues')).toMatchObject({ status: 'succeeded', counts: { deleted: 0 }, warnings: [{ code: 'DELETES_HELD', model: 'Issue', held: 6, live: 6 }] });
  const held = await issues.api.get(`/syncs/issues/held-deletes?connection_id=${issues.conn}`);
  expect(JSON.stringify(held.body)).toContain('"count":6');
}, 240_000);
