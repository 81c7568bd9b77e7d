/**
 * A sync removed by a deploy while its split pass is unfinished takes its parts with it: they
 * used to stay in sync_parts with no pass around them, so when the sync was deployed again every
 * run of the pair was skipped as "a split pass is in progress" and every part as "its pass is
 * over", for ever. Now the sync's next deploy starts from nothing: its first pass splits afresh
 * and succeeds. A whole host with 2 runtime worker processes on real Postgres against a real
 * provider server; each attempt deploys to an environment of its own (startSplitHost).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, reposSplit, startReposForTest } from './repos-provider.ts';
import { startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;
const NOOP = "import { createAction } from 'ferry/sdk';\nexport default createAction({ description: 'noop', exec: async () => ({}) });";

beforeAll(async () => {
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

test('removing a sync mid-pass drops its parts; deployed again, its first pass splits afresh and succeeds', async () => {
  const provider = await startReposForTest(3, 4, 30);
  provider.failRepo = 'org/repo-2';
  const env = await host.environment('repos-removed', reposSplit(provider.url));
  const c = await env.connect();
  const failedRuns = async () => (await c.runs()).filter((r) => r.part === 'org/repo-2' && r.status === 'failed').length;
  await waitFor('two parts done and one given up', async () => {
    const rows = await c.parts();
    return rows.length === 3 && rows.filter((r) => r.status === 'succeeded').length === 2 && (await failedRuns()) === 2 ? rows : undefined;
  }, 120_000);

  // Deployed without the sync: it is removed, and its parts with it.
  await env.deploy({ 'actions/noop.ts': NOOP });
  expect(await c.parts()).toEqual([]);

  provider.failRepo = null;
  const redeployedAt = new Date();
  await env.deploy({ 'syncs/issues.ts': KEY_SPLIT_SYNC, 'actions/noop.ts': NOOP });
  const done = await c.passDone();
  expect(Date.parse(done.last_sync_date)).toBeGreaterThanOrEqual(redeployedAt.getTime() - 1000);
  const after = (await c.runs()).filter((r) => r.started_at >= redeployedAt);
  expect(after.filter((r) => r.part !== null).map((r) => r.part).sort()).toEqual(['org/repo-0', 'org/repo-1', 'org/repo-2']);
  expect(after.every((r) => r.status === 'succeeded')).toBe(true);
}, 180_000);
