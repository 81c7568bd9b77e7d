/**
 * Every developer path of a key split runs it sensibly. `ferry dryrun` against a real host and a
 * real provider server: a full pass runs `split.partitions`, then each part in turn with
 * `nango.partition`, collecting every part's records (nothing is written on the host); `part`
 * runs one part only; a bad listing or a failing part fails the dry run naming why. And
 * `ferry/testing` lists the keys (`listPartitions`) or runs one part (`partition`).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, startRepos, type ReposProvider } from '../sync/repos-provider.ts';

let ferry: TestFerry;
let provider: ReposProvider;
let runtime: Runtime;
let dir: string;
const logger = createLogger({ level: 'silent' });
const tester = createScriptTester();

beforeAll(async () => {
  provider = await startRepos(3, 5, 0);
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/reposp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'repos-dry', provider: 'reposp' })).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'ferry-dryrun-keys-'));
  await mkdir(join(dir, 'reposp/syncs'), { recursive: true });
  await writeFile(join(dir, 'reposp/syncs/issues.ts'), KEY_SPLIT_SYNC);
}, 120_000);
afterAll(async () => {
  await tester.close();
  await runtime?.close();
  await ferry?.close();
  await provider?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const dry = (extra: { part?: string } = {}) => dryRun({ name: 'issues', connectionId: 'repos-dry', dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime, ...extra });
const issuesOf = (run: Awaited<ReturnType<typeof dry>>) => [...(run.models.get('Issue')?.records.values() ?? [])] as Array<{ id: string; repo: string; window: string }>;

describe('ferry dryrun of a key-split sync', () => {
  test('a full pass lists the keys, then runs every part in turn, each reading its own key; the host keeps nothing', async () => {
    provider.requests.length = 0;
    const run = await dry();
    expect(run.result.ok ? null : run.result.error).toBeNull();
    const repos = [...provider.repos.keys()];
    expect(run.partitions).toEqual({ keys: repos, ran: repos });
    const issues = issuesOf(run);
    expect(issues.map((i) => i.id).sort()).toEqual([...provider.repos.values()].flat().sort());
    for (const issue of issues) {
      expect(provider.repos.get(issue.repo)).toContain(issue.id);
      expect(issue.window).toBe('[null,null]');
    }
    // The listing first, then each repo's pages in turn.
    expect(provider.requests[0]!.path).toBe('/repos');
    expect(provider.requests.filter((r) => r.path === '/repos')).toHaveLength(1);
    const [records] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records`;
    expect(records!.n).toBe(0);
  });

  test('part runs one part only, without listing', async () => {
    provider.requests.length = 0;
    const run = await dry({ part: 'org/repo-1' });
    expect(run.result.ok).toBe(true);
    expect(run.partitions).toEqual({ keys: null, ran: ['org/repo-1'] });
    expect(issuesOf(run).map((i) => i.id).sort()).toEqual(provider.repos.get('org/repo-1'));
    expect(provider.requests.some((r) => r.path === '/repos')).toBe(false);
  });

  test('a listing of no keys is a pass of zero parts that succeeds, as on the host', async () => {
    provider.listing = 'none';
    try {
      const none = await dry();
      expect(none.result.ok).toBe(true);
      expect(none.partitions).toEqual({ keys: [], ran: [] });
      expect(issuesOf(none)).toEqual([]);
    } finally {
      provider.listing = 'ok';
    }
  });

  test('a listing of junk fails before any part runs; a failing part stops the pass, naming the part', async () => {
    provider.listing = 'duplicates';
    try {
      const junk = await dry();
      expect(junk.result.ok).toBe(false);
      expect(!junk.result.ok && junk.result.error).toMatchObject({ code: 'INVALID_OUTPUT', message: expect.stringContaining('"org/repo-0" is returned more than once') });
      expect(junk.partitions).toEqual({ keys: null, ran: [] });
    } finally {
      provider.listing = 'ok';
    }
    provider.failRepo = 'org/repo-1';
    try {
      const failed = await dry();
      expect(failed.partitions?.ran).toEqual(['org/repo-0', 'org/repo-1']);
      expect(!failed.result.ok && failed.result.error.message).toMatch(/^part "org\/repo-1": .*400/);
      // The part before it kept its records in the dry run's output.
      expect(issuesOf(failed).map((i) => i.repo)).toContain('org/repo-0');
    } finally {
      provider.failRepo = null;
    }
  });
});

describe('ferry dryrun (the binary) of a key-split sync', () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [resolve(import.meta.dirname, '../../cli/bin.ts'), 'dryrun', 'issues', '--connection', 'repos-dry', '--dir', dir, ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  // Two tests: each spawns a CLI process that bundles the script, slow on a loaded machine.
  test('prints how the pass split and what every part saved', async () => {
    const all = await cli([]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('Split by keys: 3 part(s) (org/repo-0, org/repo-1, org/repo-2); ran 3 in turn');
    expect(all.stdout).toMatch(/Issue: 15 record\(s\)/);
  });

  test('--part runs one', async () => {
    const one = await cli(['--part', 'org/repo-2', '--json']);
    expect(one.code).toBe(0);
    const parsed = JSON.parse(one.stdout) as { partitions: unknown; models: { Issue: { count: number } } };
    expect(parsed.partitions).toEqual({ keys: null, ran: ['org/repo-2'] });
    expect(parsed.models.Issue.count).toBe(5);
  });
});

describe('ferry/testing of a key-split sync', () => {
  test('listPartitions returns the keys as the runtime checked them; partition runs one part', async () => {
    const script = join(dir, 'reposp/syncs/issues.ts');
    const proxy = liveProxy({ baseUrl: provider.url });
    const listed = await tester.run({ script, proxy, listPartitions: true });
    expect(listed.ok).toBe(true);
    expect(listed.output).toEqual([...provider.repos.keys()]);
    const part = await tester.run({ script, proxy, partition: 'org/repo-2' });
    expect(part.ok).toBe(true);
    expect(part.records('Issue').map((i: { id: string }) => i.id).sort()).toEqual(provider.repos.get('org/repo-2'));
    const unsplit = await tester.run({ script, proxy });
    expect(unsplit.ok).toBe(false);
    expect(unsplit.error?.message).toContain('a key split runs as parts');
  });
});
