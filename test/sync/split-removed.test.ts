/**
 * A sync removed by a deploy while its split pass is unfinished takes its parts with it: they
 * used to stay in sync_parts with no pass around them, so when the sync was deployed again every
 * run of the pair was skipped as "a split pass is in progress" and every part as "its pass is
 * over", for ever. Now the sync's next deploy starts from nothing: its first pass splits afresh
 * and succeeds. A whole host with 2 runtime worker processes on real Postgres against a real
 * provider server.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, startRepos, type ReposProvider } from './repos-provider.ts';

let ferry: TestFerry;
let provider: ReposProvider;
const CONN = 'repos-removed';
const NOOP = "import { createAction } from 'ferry/sdk';\nexport default createAction({ description: 'noop', exec: async () => ({}) });";

beforeAll(async () => {
  provider = await startRepos(3, 4, 30);
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2', FERRY_SYNC_RETRY_BASE_MS: '200' });
  await deploySources(ferry, { 'reposp/syncs/issues.ts': KEY_SPLIT_SYNC });
  expect((await ferry.api.put('/providers/reposp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const parts = () => ferry.db.sql<{ part: string; status: string }[]>`select part, status from sync_parts order by part`;
const state = async () => (await ferry.api.get(`/syncs/issues/status?connection_id=${CONN}`)).body;

test('removing a sync mid-pass drops its parts; deployed again, its first pass splits afresh and succeeds', async () => {
  provider.failRepo = 'org/repo-2';
  expect((await ferry.api.post('/connections', { connection_id: CONN, provider: 'reposp' })).status).toBe(201);
  await waitFor('two parts done and one given up', async () => {
    const rows = await parts();
    const [failed] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from runs where part = 'org/repo-2' and status = 'failed'`;
    return rows.length === 3 && rows.filter((r) => r.status === 'succeeded').length === 2 && failed!.n === 2 ? rows : undefined;
  }, 120_000);

  // Deployed without the sync: it is removed, and its parts with it.
  await deploySources(ferry, { 'reposp/actions/noop.ts': NOOP });
  expect(await parts()).toEqual([]);

  provider.failRepo = null;
  const redeployedAt = new Date();
  await deploySources(ferry, { 'reposp/syncs/issues.ts': KEY_SPLIT_SYNC, 'reposp/actions/noop.ts': NOOP });
  const done = await waitFor('the new first pass to succeed', async () => {
    const s = await state();
    return s.last_sync_date !== null && s.split_pass === null ? s : undefined;
  }, 60_000);
  expect(Date.parse(done.last_sync_date)).toBeGreaterThanOrEqual(redeployedAt.getTime() - 1000);
  const after = await ferry.db.sql<{ part: string | null; status: string }[]>`select part, status from runs where started_at >= ${redeployedAt} order by id`;
  expect(after.filter((r) => r.part !== null).map((r) => r.part).sort()).toEqual(['org/repo-0', 'org/repo-1', 'org/repo-2']);
  expect(after.every((r) => r.status === 'succeeded')).toBe(true);
}, 180_000);
