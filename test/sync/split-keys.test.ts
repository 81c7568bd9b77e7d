/**
 * Parallel first sync split by partition keys: a sync declaring `split: { by: 'keys',
 * partitions }` lists its repos in the isolate (its own run kind, through the host's proxy), and
 * each repo is a part with its own run, through a whole host with 2 runtime worker processes on
 * real Postgres against a real provider server. The parts run side by side; the pass moves
 * lastSyncDate and applies full-refresh deletes only when its last part succeeds; a failing part
 * moves nothing and loses no other part's records. A listing that throws or returns junk, too
 * many or repeated keys fails the splitting run with a clear error and writes no parts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readAll, waitFor } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, reposSplit, startReposForTest, type Listing, type ReposProvider } from './repos-provider.ts';
import { startSplitHost, type SplitConnection, type SplitHost } from './split-provider.ts';

let host: SplitHost;

beforeAll(async () => {
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

const allIssues = (provider: ReposProvider) => [...provider.repos.values()].flat().sort();
/**
 * A test that waits for a whole pass (passDone waits up to 120 s) gets longer than vitest's 60 s:
 * on a loaded machine a 4-part pass with a retry outlasted the test, not the wait.
 */
const PASS_TEST_TIMEOUT_MS = 180_000;

interface ReposConnection { c: SplitConnection; provider: ReposProvider }

/**
 * A repos server (4 repos of 7 issues), an environment and a connection to it, all this
 * attempt's own (startSplitHost), so that CI's retry of a test starts from the provider and the
 * sync state its first attempt had. `listing` is set before the connection's first (splitting)
 * run starts.
 */
async function reposConnection(base: string, listing: Listing = 'ok'): Promise<ReposConnection> {
  const provider = await startReposForTest(4, 7);
  provider.listing = listing;
  return { c: await host.connect(base, reposSplit(provider.url)), provider };
}

/** reposConnection, once its first split pass has succeeded; the provider's request log starts empty after it. */
async function syncedReposConnection(base: string): Promise<ReposConnection> {
  const made = await reposConnection(base);
  await made.c.passDone();
  expect(await made.c.liveIds()).toEqual(allIssues(made.provider));
  made.provider.requests.length = 0;
  return made;
}

describe('a full pass split by partition keys', () => {
  test('the first sync lists the repos, then runs one part per repo side by side on 2 worker processes; lastSyncDate moves once every part has succeeded', async () => {
    const { c, provider } = await reposConnection('repos');
    const progress = await waitFor('the split', async () => (await c.status()).split_pass ?? undefined);
    expect(progress.parts).toBe(4);

    const done = await c.passDone();
    const runs = await c.runs();
    const splitter = runs.find((r) => r.part === null)!;
    const parts = runs.filter((r) => r.part !== null);
    expect(splitter.status).toBe('succeeded');
    // The splitting run read the listing only, through the proxy; its log says how it split.
    const logs = (await c.api.get(`/runs/${splitter.id}/logs`)).body;
    expect(JSON.stringify(logs)).toContain('full pass split into 4 parts (by key: \\"org/repo-0\\"');
    expect(provider.requests.filter((r) => r.path === '/repos')).toHaveLength(1);
    // One part per key, each succeeded, keyed by the repo name.
    expect(parts.map((r) => r.part).sort()).toEqual([...provider.repos.keys()].sort());
    expect(parts.every((r) => r.status === 'succeeded')).toBe(true);
    expect(Date.parse(done.last_sync_date)).toBe(splitter.started_at.getTime());
    const overlapping = parts.some((a) => parts.some((b) => a !== b && a.started_at < b.finished_at! && b.started_at < a.finished_at!));
    expect(overlapping).toBe(true);
    // Each part read its own repo (nango.partition = { key, from: null, to: null }); together every issue, once.
    const records = await c.live();
    expect(records.map((r) => r.id).sort()).toEqual(allIssues(provider));
    for (const record of records) {
      expect(provider.repos.get(record.repo)).toContain(record.id);
      expect(record.window).toBe('[null,null]');
    }
    expect((await c.api.get(`/runs/${parts[0]!.id}`)).body.part).toBe(parts[0]!.part);
  }, PASS_TEST_TIMEOUT_MS);

  test('a failing part moves nothing and loses no other part\'s records; once its retry succeeds the deletes apply, once', async () => {
    const { c, provider } = await syncedReposConnection('repos-failing');
    const before = await c.status();
    const gone = [provider.repos.get('org/repo-0')!.pop()!, provider.repos.get('org/repo-3')!.shift()!];
    provider.failRepo = 'org/repo-2';

    expect((await c.api.post('/syncs/issues/trigger', { connection_id: c.conn, full: true })).status).toBe(202);
    const stuck = await waitFor('every part but the failing one to succeed, and that one to give up', async () => {
      const s = await c.status();
      return s.split_pass && s.split_pass.given_up === 1 && s.split_pass.succeeded === s.split_pass.parts - 1 ? s : undefined;
    }, 120_000);
    expect(stuck.last_sync_date).toBe(before.last_sync_date);
    const stillLive = await c.liveIds();
    for (const id of gone) expect(stillLive).toContain(id);
    expect(stillLive).toHaveLength(28);
    // The failing part was tried twice (retries: 1), on its own.
    const failed = (await c.runs()).filter((r) => r.part === 'org/repo-2' && r.status === 'failed');
    expect(failed).toHaveLength(2);

    provider.failRepo = null;
    const lastRun = (await c.runs()).at(-1)!.id;
    expect((await c.api.post('/syncs/issues/trigger', { connection_id: c.conn })).status).toBe(202);
    const done = await c.passDone(before.last_sync_date);
    const after = (await c.runs()).filter((r) => BigInt(r.id) > BigInt(lastRun));
    // The trigger re-armed the part (no new listing, no new pass); it settled the pass.
    expect(after.filter((r) => r.part === null)).toHaveLength(0);
    expect(provider.requests.filter((r) => r.path === '/repos')).toHaveLength(1);
    const settling = after.filter((r) => r.part !== null && r.status === 'succeeded');
    expect(settling.map((r) => r.part)).toEqual(['org/repo-2']);
    expect(settling[0]!.deleted).toBe(2);
    expect(await c.liveIds()).toEqual(allIssues(provider));
    expect(after.reduce((sum, r) => sum + r.deleted, 0)).toBe(2);
    expect(Date.parse(done.last_sync_date)).toBeGreaterThan(Date.parse(before.last_sync_date));
  }, PASS_TEST_TIMEOUT_MS);

  test('a part that fails once is retried alone; the pass settles (lastSyncDate, the deletes, once) only with every part, its retry included', async () => {
    const { c, provider } = await syncedReposConnection('repos-retried');
    const before = await c.status();
    const gone = provider.repos.get('org/repo-1')!.pop()!;
    provider.failTimes.set('org/repo-1', 1);
    const lastRun = (await c.runs()).at(-1)!.id;
    expect((await c.api.post('/syncs/issues/trigger', { connection_id: c.conn, full: true })).status).toBe(202);
    const done = await c.passDone(before.last_sync_date);
    const runs = (await c.runs()).filter((r) => BigInt(r.id) > BigInt(lastRun));
    const ofRepo1 = runs.filter((r) => r.part === 'org/repo-1');
    expect(ofRepo1.map((r) => r.status)).toEqual(['failed', 'succeeded']);
    expect(ofRepo1[0]!.error).toMatchObject({ message: expect.stringContaining('400') });
    // Each other part ran once. The part that succeeded last settled the pass (and applied the
    // delete, once): never before the retry had succeeded.
    for (const repo of ['org/repo-0', 'org/repo-2', 'org/repo-3']) expect(runs.filter((r) => r.part === repo).map((r) => r.status)).toEqual(['succeeded']);
    const succeeded = runs.filter((r) => r.part !== null && r.status === 'succeeded').sort((a, b) => a.finished_at!.getTime() - b.finished_at!.getTime());
    const settling = runs.filter((r) => r.deleted > 0);
    expect(settling).toHaveLength(1);
    expect(settling[0]!.deleted).toBe(1);
    expect(settling[0]!.id).toBe(succeeded.at(-1)!.id);
    expect(settling[0]!.finished_at!.getTime()).toBeGreaterThanOrEqual(ofRepo1[1]!.finished_at!.getTime());
    const records = await readAll(c.api, c.conn, 'Issue');
    expect(records.records.find((r) => r.id === gone)?._ferry_metadata.deleted_at).not.toBeNull();
    expect(await c.liveIds()).toEqual(allIssues(provider));
    expect(Date.parse(done.last_sync_date)).toBe(runs.find((r) => r.part === null)!.started_at.getTime());
  }, PASS_TEST_TIMEOUT_MS);

  test.each<[Listing, string, RegExp]>([
    ['throw', 'SCRIPT_ERROR', /503/],
    ['junk', 'INVALID_OUTPUT', /split\.partitions returned unusable keys: keys\[1\]: a partition key is a string; keys\[2\]: a partition key is a string/],
    ['too-many', 'INVALID_OUTPUT', /at most 1000 keys/],
    ['duplicates', 'INVALID_OUTPUT', /the key "org\/repo-0" is returned more than once/],
  ])('a listing that %s fails the splitting run (and its retry) with a clear error, and writes no parts', async (listing, code, message) => {
    const { c } = await reposConnection(`repos-${listing}`, listing);
    const runs = await waitFor('the split run and its retry to fail', async () => {
      const rows = await c.runs();
      return rows.length >= 2 && rows.every((r) => r.status === 'failed') ? rows : undefined;
    }, 60_000);
    for (const run of runs) {
      expect(run.part).toBeNull();
      expect(run.error).toMatchObject({ code, message: expect.stringMatching(message) });
    }
    const s = await c.status();
    expect(s.last_sync_date).toBeNull();
    expect(s.split_pass).toBeNull();
    expect(await c.parts()).toEqual([]);
    // retries: 1 — after the retry, nothing more until the next scheduled run: no job queued, the next run an hour on.
    const [pending] = await host.ferry.db.sql<{ jobs: number; next_run_at: Date }[]>`
      select (select count(*)::int from pgboss.job j where j.name = 'ferry-sync' and j.state in ('created', 'retry', 'active') and j.data->>'connectionId' = c.id::text) as jobs,
        s.next_run_at
      from connections c join sync_state s on s.connection_id = c.id where c.connection_id = ${c.conn}`;
    expect(pending!.jobs).toBe(0);
    expect(pending!.next_run_at.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(await c.runs()).toHaveLength(2);
  }, 90_000); // its wait for the two failed runs may take 60 s

  test('a key split without a partitions function is refused at deploy, naming why', async () => {
    // Deploys only: no connection, so the provider is never called.
    const env = await host.environment('repos-refused', reposSplit('http://127.0.0.1:9'));
    const refused = await env.deploy({
      'syncs/issues.ts': KEY_SPLIT_SYNC,
      'syncs/broken.ts': KEY_SPLIT_SYNC.replace(/partitions: async \(nango\) => \{[\s\S]*?\n    \},/, ''),
    }).then(() => null, (err: Error) => err);
    expect(refused?.message).toContain("split: { by: 'keys' } needs partitions");
  });
});
