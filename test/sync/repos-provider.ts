/**
 * What the key-split tests share: a sync split by the repos its `partitions` lists, each part
 * reading its repo's issues page by page with a checkpoint, and a provider of repos and issues
 * with latency, a repo that can be made to fail, a listing that can be made to misbehave, and a
 * log of the requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import type { SplitSetUp } from './split-provider.ts';

export const KEY_SPLIT_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Issue = z.object({ id: z.string(), repo: z.string(), window: z.string() });
export default createSync({
  description: 'issues, first sync split by repo',
  frequency: 'every 1 hour',
  syncType: 'full',
  trackDeletes: true,
  retries: 1,
  split: {
    by: 'keys',
    partitions: async (nango) => {
      const res = await nango.get<{ repos: string[] }>({ endpoint: '/repos', retries: 0 });
      return res.data.repos;
    },
  },
  models: { Issue },
  exec: async (nango) => {
    const part = nango.partition;
    if (!part) throw new Error('a key split runs as parts');
    let after = ((await nango.getCheckpoint()) as { after?: string } | null)?.after ?? '';
    for (;;) {
      const res = await nango.get<{ issues: Array<{ id: string }>; next: string | null }>({
        endpoint: '/repos/' + encodeURIComponent(part.key) + '/issues', params: { after, limit: '3' }, retries: 0,
      });
      await nango.batchSave(res.data.issues.map((i) => ({ id: i.id, repo: part.key, window: JSON.stringify([part.from, part.to]) })), 'Issue');
      if (!res.data.next) break;
      after = res.data.next;
      await nango.saveCheckpoint({ after });
    }
  },
});`;

/** The key split sync (KEY_SPLIT_SYNC unless `source` is another) as provider reposp, reading the repos server at `baseUrl` (startSplitHost). */
export const reposSplit = (baseUrl: string, source = KEY_SPLIT_SYNC): SplitSetUp =>
  ({ provider: 'reposp', baseUrl, scripts: { 'syncs/issues.ts': source }, sync: 'issues', model: 'Issue' });

export type Listing = 'ok' | 'throw' | 'junk' | 'too-many' | 'duplicates' | 'none';

export interface ReposProvider {
  url: string;
  /** Repo name → its issue ids. */
  repos: Map<string, string[]>;
  requests: Array<{ path: string; after: string }>;
  /** Requests for this repo's issues answer 400. */
  failRepo: string | null;
  /** Repo → how many more of its issue requests answer 400 before it answers again. */
  failTimes: Map<string, number>;
  listing: Listing;
  delayMs: number;
  close(): Promise<void>;
}

function listed(provider: ReposProvider): unknown {
  const names = [...provider.repos.keys()];
  switch (provider.listing) {
    case 'ok': return names;
    case 'junk': return [names[0], 42, null];
    case 'too-many': return Array.from({ length: 1001 }, (_, i) => `repo-${i}`);
    case 'duplicates': return [...names, names[0]];
    case 'throw': return null;
    case 'none': return [];
  }
}

export async function startRepos(repoCount: number, issuesPerRepo: number, delayMs = 150): Promise<ReposProvider> {
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const after = url.searchParams.get('after') ?? '';
    provider.requests.push({ path: url.pathname, after });
    await new Promise((r) => setTimeout(r, provider.delayMs)); // latency: parts overlap while they wait
    if (url.pathname === '/repos') {
      if (provider.listing === 'throw') return send(503, { error: 'listing unavailable' });
      return send(200, { repos: listed(provider) });
    }
    const match = /^\/repos\/([^/]+)\/issues$/.exec(url.pathname);
    const repo = match ? decodeURIComponent(match[1]!) : null;
    if (repo === null || !provider.repos.has(repo)) return send(404, { error: 'no such repo' });
    if (repo === provider.failRepo) return send(400, { error: 'repo unavailable' });
    const left = provider.failTimes.get(repo) ?? 0;
    if (left > 0) {
      provider.failTimes.set(repo, left - 1);
      return send(400, { error: 'repo briefly unavailable' });
    }
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const rest = provider.repos.get(repo)!.filter((id) => id > after).sort();
    const page = rest.slice(0, limit);
    send(200, { issues: page.map((id) => ({ id })), next: rest.length > limit ? page.at(-1)! : null });
  });
  const names = Array.from({ length: repoCount }, (_, r) => `org/repo-${r}`);
  const provider: ReposProvider = {
    url: '',
    repos: new Map(names.map((name, r) => [name, Array.from({ length: issuesPerRepo }, (_, i) => `r${r}-i${String(i).padStart(3, '0')}`)])),
    requests: [],
    failRepo: null,
    failTimes: new Map(),
    listing: 'ok',
    delayMs,
    close: () => new Promise((done) => server.close(() => done())),
  };
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return provider;
}

/** startRepos, closed when the test (this attempt of it) finishes. */
export async function startReposForTest(repoCount: number, issuesPerRepo: number, delayMs?: number): Promise<ReposProvider> {
  const provider = await startRepos(repoCount, issuesPerRepo, delayMs);
  onTestFinished(() => provider.close());
  return provider;
}
