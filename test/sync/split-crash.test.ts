/**
 * A killed part resumes from its checkpoint: a real worker host process (`node host/main.ts`,
 * FERRY_ROLE=worker) runs a split first sync's parts and is killed with SIGKILL once a part has
 * saved a checkpoint. Another worker's scheduler fails the part's run as WORKER_LOST and retries
 * that part alone, from its checkpoint; the pass then succeeds with every record, and
 * lastSyncDate is the start of the pass the killed process began (killAPartMidRun).
 */
import { expect, test } from 'vitest';
import { readAll } from '../helpers/ferry.ts';
import { killAPartMidRun } from './killed-part.ts';
import { SPLIT_SYNC, startEventsForTest } from './split-provider.ts';

test('a part killed mid-run resumes from its checkpoint elsewhere; the pass completes with every record', async () => {
  const provider = await startEventsForTest(60, 1_000);
  const killed = await killAPartMidRun({ provider: 'eventsp', baseUrl: provider.url, scripts: { 'eventsp/syncs/events.ts': SPLIT_SYNC }, connectionId: 'split-crash' });

  provider.delayMs = 0;
  const requestsBefore = provider.requests.length;
  await killed.resume();
  // The retry asked the provider from the killed part's checkpoint.
  const from = provider.requests.slice(requestsBefore).filter((r) => r.from === killed.part);
  expect(from[0]?.after).toBe(killed.checkpoint.after);

  const records = (await readAll(killed.api, 'split-crash', 'Event')).records;
  expect(records.map((r) => r.id).sort()).toEqual([...provider.events.keys()].sort());
}, 240_000);
