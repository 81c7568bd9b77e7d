/**
 * A deploy that changes a sync's split definition while a split pass is unfinished restarts the
 * pass with the new parts: the old parts never run again (a running one is fenced), and the new
 * pass alone decides lastSyncDate and the full refresh's deletes; a rollback to a version that
 * splits differently restarts it too. A whole host with 2 runtime
 * worker processes on real Postgres against a real provider server.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, startRepos, type ReposProvider } from './repos-provider.ts';

let ferry: TestFerry;
let provider: ReposProvider;
const CONN = 'repos-change';
// The next version lists only two of the repos: another key list, so another split.
const NARROWED_SYNC = KEY_SPLIT_SYNC.replace('return res.data.repos;', "return res.data.repos.filter((r) => r === 'org/repo-1' || r === 'org/repo-2');");

beforeAll(async () => {
  provider = await startRepos(4, 6, 30);
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
const live = async () => (await readAll(ferry.api, CONN, 'Issue')).records.filter((r) => r._ferry_metadata.deleted_at === null).map((r) => r.id as string).sort();

test('a changed key list restarts the unfinished pass with the new parts; no old part runs after the deploy', async () => {
  provider.failRepo = 'org/repo-3';
  expect((await ferry.api.post('/connections', { connection_id: CONN, provider: 'reposp' })).status).toBe(201);
  // Three parts succeed; repo-3's part fails, and fails its one retry: the pass stays unfinished.
  await waitFor('three parts done and one given up', async () => {
    const rows = await parts();
    const done = rows.filter((r) => r.status === 'succeeded').length;
    const [failed] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from runs where part = 'org/repo-3' and status = 'failed'`;
    return rows.length === 4 && done === 3 && failed!.n === 2 && (await state()).last_sync_date === null ? rows : undefined;
  }, 120_000);
  expect((await live()).length).toBe(18);

  const deployedAt = new Date();
  await deploySources(ferry, { 'reposp/syncs/issues.ts': NARROWED_SYNC });
  const done = await waitFor('the restarted pass to succeed', async () => {
    const s = await state();
    return s.last_sync_date !== null && s.split_pass === null ? s : undefined;
  }, 120_000);
  expect(Date.parse(done.last_sync_date)).toBeGreaterThanOrEqual(deployedAt.getTime() - 1000);
  expect(await parts()).toEqual([]);

  // After the deploy only the new parts ran, once each; no part of the old pass ran again.
  const after = await ferry.db.sql<{ part: string | null; status: string }[]>`
    select part, status from runs where started_at >= ${deployedAt} order by id`;
  expect(after.filter((r) => r.part !== null).map((r) => r.part).sort()).toEqual(['org/repo-1', 'org/repo-2']);
  expect(after.every((r) => r.status === 'succeeded')).toBe(true);
  // Still the connection's first pass (none had succeeded), which detects no deletes (choosePass):
  // what the old parts saved stays, and the new parts' repos are all there.
  expect(await live()).toEqual([...provider.repos.get('org/repo-0')!, ...provider.repos.get('org/repo-1')!, ...provider.repos.get('org/repo-2')!].sort());
});

test('a deploy that changes nothing about the split leaves an unfinished pass alone', async () => {
  provider.failRepo = 'org/repo-2';
  expect((await ferry.api.post('/syncs/issues/trigger', { connection_id: CONN, full: true })).status).toBe(202);
  await waitFor('one part done and one given up', async () => {
    const rows = await parts();
    const [failed] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from runs where part = 'org/repo-2' and status = 'failed'`;
    return rows.length === 2 && rows.filter((r) => r.status === 'succeeded').length === 1 && failed!.n === 2 ? rows : undefined;
  }, 120_000);
  const [before] = await ferry.db.sql<{ pass_started_at: Date }[]>`select pass_started_at from sync_state`;
  // The same bundle again, and another sync beside it: the split did not change, nothing restarts.
  await deploySources(ferry, { 'reposp/syncs/issues.ts': NARROWED_SYNC, 'reposp/actions/noop.ts': "import { createAction } from 'ferry/sdk';\nexport default createAction({ description: 'noop', exec: async () => ({}) });" });
  expect((await parts()).map((r) => r.part)).toEqual(['org/repo-1', 'org/repo-2']);
  const [after] = await ferry.db.sql<{ pass_started_at: Date }[]>`select pass_started_at from sync_state`;
  expect(after!.pass_started_at).toEqual(before!.pass_started_at);
  expect(before!.pass_started_at).not.toBeNull();
});

test('a rollback to a version that splits differently restarts the unfinished pass with that version\'s parts', async () => {
  // Left by the test above: the narrowed list's pass, repo-2's part given up. Version 1 (the
  // first deploy) lists all four repos.
  expect((await parts()).map((r) => r.part)).toEqual(['org/repo-1', 'org/repo-2']);
  provider.failRepo = null;
  const versions = (await ferry.api.get('/deploys')).body.deploys as Array<{ version: number }>;
  const first = Math.min(...versions.map((v) => v.version));
  const rolledBackAt = new Date();
  const rollback = await ferry.api.post(`/deploys/${first}/rollback`, {});
  expect(rollback.status).toBe(200);
  expect(rollback.body.scripts).toContainEqual(expect.objectContaining({ name: 'issues', status: 'changed' }));

  const done = await waitFor('the restarted pass to succeed', async () => {
    const s = await state();
    return s.last_sync_date !== null && Date.parse(s.last_sync_date) >= rolledBackAt.getTime() - 1000 && s.split_pass === null ? s : undefined;
  }, 120_000);
  expect(done.split_pass).toBeNull();
  expect(await parts()).toEqual([]);
  // After the rollback only the restored version's four parts ran, once each; the narrowed
  // pass's given-up part never ran again.
  const after = await ferry.db.sql<{ part: string | null; status: string }[]>`
    select part, status from runs where started_at >= ${rolledBackAt} order by id`;
  expect(after.filter((r) => r.part !== null).map((r) => r.part).sort()).toEqual(['org/repo-0', 'org/repo-1', 'org/repo-2', 'org/repo-3']);
  expect(after.every((r) => r.status === 'succeeded')).toBe(true);
  expect((await live()).length).toBe(24);
}, 180_000);
