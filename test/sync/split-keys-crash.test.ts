/**
 * A killed part of a key split resumes from its checkpoint: a real worker host process (`node
 * host/main.ts`, FERRY_ROLE=worker) lists the repos, runs their parts and is killed with SIGKILL
 * once a part has saved a checkpoint. Another worker's scheduler fails the part's run as
 * WORKER_LOST and retries that part alone, from its checkpoint and without listing again; the
 * pass then succeeds with every record, and lastSyncDate is the start of the pass the killed
 * process began (killAPartMidRun).
 */
import { expect, test } from 'vitest';
import { readAll } from '../helpers/ferry.ts';
import { killAPartMidRun } from './killed-part.ts';
import { KEY_SPLIT_SYNC, startReposForTest } from './repos-provider.ts';

test('a key part killed mid-run resumes from its checkpoint elsewhere, without a new listing; the pass completes with every record', async () => {
  const provider = await startReposForTest(4, 9, 1_000);
  const killed = await killAPartMidRun({ provider: 'reposp', baseUrl: provider.url, scripts: { 'reposp/syncs/issues.ts': KEY_SPLIT_SYNC }, connectionId: 'split-keys-crash' });

  provider.delayMs = 0;
  const requestsBefore = provider.requests.length;
  await killed.resume();
  // The retry asked the provider from the killed part's checkpoint, and nothing listed the repos again.
  const since = provider.requests.slice(requestsBefore);
  const ofPart = since.filter((r) => r.path === `/repos/${encodeURIComponent(killed.part)}/issues`);
  expect(ofPart[0]?.after).toBe(killed.checkpoint.after);
  expect(since.some((r) => r.path === '/repos')).toBe(false);

  const records = (await readAll(killed.api, 'split-keys-crash', 'Issue')).records;
  expect(records.map((r) => r.id).sort()).toEqual([...provider.repos.values()].flat().sort());
  expect(new Set(records.map((r) => r.repo))).toEqual(new Set(provider.repos.keys()));
}, 240_000);
