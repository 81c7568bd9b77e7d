/**
 * Pausing a sync mid first sync, while its split pass runs: the part running finishes, the parts
 * already queued do not start — they wait, pending, in their pass — and resuming runs them, each
 * once, and completes the pass with every record. A queued part used to run anyway (only the
 * pair's own job was skipped when paused). Through a whole host with one runtime worker process
 * (so one part runs at a time and the others stay queued behind it) on real Postgres against a
 * real provider server whose latency keeps the first part running while the test pauses; each
 * attempt has an environment, a connection and a provider server of its own (pauseMidPass).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pauseMidPass, startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;

beforeAll(async () => {
  host = await startSplitHost({ FERRY_RUNTIME_WORKERS: '1', FERRY_RESERVED_SLOTS: '0' });
}, 120_000);
afterAll(async () => {
  await host?.close();
});

test('a pause mid split pass lets the running part finish and keeps the queued ones waiting; resume runs each once and completes the pass', async () => {
  // One part running (slowly) and the others queued behind it, then the pause: the running part
  // finishes and every queued one is taken from the queue and left waiting, unrun.
  const { provider, connection: c, pausedAt, waiting } = await pauseMidPass(host, 'pause-split');
  expect(waiting.filter((p) => p.status === 'succeeded')).toHaveLength(1);
  expect((await c.partRuns()).filter((r) => r.started_at >= pausedAt)).toEqual([]);
  expect(await c.status()).toMatchObject({ paused: true, last_sync_date: null });

  expect((await c.api.post('/syncs/events/resume', { connection_id: c.conn })).status).toBe(200);
  await c.passDone();
  const runs = await c.partRuns();
  expect(runs.map((r) => r.part).sort()).toEqual(waiting.map((p) => p.part).sort());
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
}, 240_000);
