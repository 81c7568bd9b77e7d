/**
 * A deploy that changes a sync's split definition while a split pass is unfinished restarts the
 * pass with the new parts: the old parts never run again (a running one is fenced), and the new
 * pass alone decides lastSyncDate and the full refresh's deletes; a rollback to a version that
 * splits differently restarts it too. A whole host with 2 runtime worker processes on real
 * Postgres against a real provider server; each test (and each attempt of one) deploys to an
 * environment of its own (startSplitHost), so none starts from what another left.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, reposSplit, startReposForTest, type ReposProvider } from './repos-provider.ts';
import { startSplitHost, type SplitConnection, type SplitHost } from './split-provider.ts';

let host: SplitHost;
// The next version lists only two of the repos: another key list, so another split.
const NARROWED_SYNC = KEY_SPLIT_SYNC.replace('return res.data.repos;', "return res.data.repos.filter((r) => r === 'org/repo-1' || r === 'org/repo-2');");
const NOOP = "import { createAction } from 'ferry/sdk';\nexport default createAction({ description: 'noop', exec: async () => ({}) });";

beforeAll(async () => {
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

/** Waits until `failing`'s part has failed twice (its one retry included) and `succeeded` parts of `total` are done: an unfinished pass. */
const passHeldBack = (c: SplitConnection, failing: string, succeeded: number, total: number) =>
  waitFor(`${succeeded} of ${total} parts done and ${failing}'s given up`, async () => {
    const rows = await c.parts();
    const failed = (await c.runs()).filter((r) => r.part === failing && r.status === 'failed').length;
    return rows.length === total && rows.filter((r) => r.status === 'succeeded').length === succeeded && failed === 2 ? rows : undefined;
  }, 120_000);

/**
 * An environment with the sync deployed in its four-repo version and then in its narrowed one,
 * and a connection whose first pass (the narrowed list's two parts) is held back by repo-2's
 * part, given up: an unfinished pass of the version deployed now.
 */
async function narrowedPassHeldBack(base: string): Promise<{ c: SplitConnection; provider: ReposProvider; deploy: (scripts: Record<string, string>) => Promise<unknown> }> {
  const provider = await startReposForTest(4, 6, 30);
  provider.failRepo = 'org/repo-2';
  const env = await host.environment(base, reposSplit(provider.url));
  await env.deploy({ 'syncs/issues.ts': NARROWED_SYNC });
  const c = await env.connect();
  await passHeldBack(c, 'org/repo-2', 1, 2);
  expect((await c.status()).last_sync_date).toBeNull();
  return { c, provider, deploy: env.deploy };
}

test('a changed key list restarts the unfinished pass with the new parts; no old part runs after the deploy', async () => {
  const provider = await startReposForTest(4, 6, 30);
  provider.failRepo = 'org/repo-3';
  const env = await host.environment('repos-change', reposSplit(provider.url));
  const c = await env.connect();
  // Three parts succeed; repo-3's part fails, and fails its one retry: the pass stays unfinished.
  await passHeldBack(c, 'org/repo-3', 3, 4);
  expect((await c.status()).last_sync_date).toBeNull();
  expect((await c.live()).length).toBe(18);

  const deployedAt = new Date();
  await env.deploy({ 'syncs/issues.ts': NARROWED_SYNC });
  const done = await c.passDone();
  expect(Date.parse(done.last_sync_date)).toBeGreaterThanOrEqual(deployedAt.getTime() - 1000);
  expect(await c.parts()).toEqual([]);

  // After the deploy only the new parts ran, once each; no part of the old pass ran again.
  const after = (await c.runs()).filter((r) => r.started_at >= deployedAt);
  expect(after.filter((r) => r.part !== null).map((r) => r.part).sort()).toEqual(['org/repo-1', 'org/repo-2']);
  expect(after.every((r) => r.status === 'succeeded')).toBe(true);
  // Still the connection's first pass (none had succeeded), which detects no deletes (choosePass):
  // what the old parts saved stays, and the new parts' repos are all there.
  expect(await c.liveIds()).toEqual([...provider.repos.get('org/repo-0')!, ...provider.repos.get('org/repo-1')!, ...provider.repos.get('org/repo-2')!].sort());
}, 240_000);

test('a deploy that changes nothing about the split leaves an unfinished pass alone', async () => {
  const { c, deploy } = await narrowedPassHeldBack('repos-unchanged');
  const before = await c.syncState();
  // The same bundle again, and another sync beside it: the split did not change, nothing restarts.
  await deploy({ 'syncs/issues.ts': NARROWED_SYNC, 'actions/noop.ts': NOOP });
  expect((await c.parts()).map((r) => r.part)).toEqual(['org/repo-1', 'org/repo-2']);
  const after = await c.syncState();
  expect(after.pass_started_at).toEqual(before.pass_started_at);
  expect(before.pass_started_at).not.toBeNull();
}, 180_000);

test('a rollback to a version that splits differently restarts the unfinished pass with that version\'s parts', async () => {
  // The narrowed list's pass, repo-2's part given up. The environment's first deploy lists all four repos.
  const { c, provider } = await narrowedPassHeldBack('repos-rollback');
  expect((await c.parts()).map((r) => r.part)).toEqual(['org/repo-1', 'org/repo-2']);
  provider.failRepo = null;
  const versions = (await c.api.get('/deploys')).body.deploys as Array<{ version: number }>;
  const first = Math.min(...versions.map((v) => v.version));
  const rolledBackAt = new Date();
  const rollback = await c.api.post(`/deploys/${first}/rollback`, {});
  expect(rollback.status).toBe(200);
  expect(rollback.body.scripts).toContainEqual(expect.objectContaining({ name: 'issues', status: 'changed' }));

  const done = await c.passDone(new Date(rolledBackAt.getTime() - 1000));
  expect(done.split_pass).toBeNull();
  expect(await c.parts()).toEqual([]);
  // After the rollback only the restored version's four parts ran, once each; the narrowed
  // pass's given-up part never ran again.
  const after = (await c.runs()).filter((r) => r.started_at >= rolledBackAt);
  expect(after.filter((r) => r.part !== null).map((r) => r.part).sort()).toEqual(['org/repo-0', 'org/repo-1', 'org/repo-2', 'org/repo-3']);
  expect(after.every((r) => r.status === 'succeeded')).toBe(true);
  expect((await c.live()).length).toBe(24);
}, 240_000);
