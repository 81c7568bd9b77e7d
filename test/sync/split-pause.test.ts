/**
 * Pausing a sync mid first sync, while its split pass runs: the part running finishes, the parts
 * already queued do not start — they wait, pending, in their pass — and resuming runs them, each
 * once, and completes the pass with every record. A queued part used to run anyway (only the
 * pair's own job was skipped when paused). Through a whole host with one runtime worker process
 * (so one part runs at a time and the others stay queued behind it) on real Postgres against a
 * real provider server whose latency keeps the first part running while the test pauses; each
 * attempt has an environment, a connection and a provider server of its own (startSplitHost).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';
import { eventsSplit, startEventsForTest, startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;

beforeAll(async () => {
  host = await startSplitHost({ FERRY_RUNTIME_WORKERS: '1', FERRY_RESERVED_SLOTS: '0' });
}, 120_000);
afterAll(async () => {
  await host?.close();
});

test('a pause mid split pass lets the running part finish and keeps the queued ones waiting; resume runs each once and completes the pass', async () => {
  const provider = await startEventsForTest(30, 1_000);
  const c = await host.connect('pause-split', eventsSplit(provider.url));
  const partRuns = async () => (await c.runs()).filter((r) => r.part !== null);

  // One part running (slowly), the others queued behind it.
  await waitFor('a part running and the others queued', async () => {
    const all = await c.parts();
    return all.length > 2 && all.filter((p) => p.status === 'running').length === 1 && all.filter((p) => p.status === 'queued').length === all.length - 1 ? true : undefined;
  }, 60_000);
  expect((await c.api.post('/syncs/events/pause', { connection_id: c.conn })).status).toBe(200);
  const pausedAt = (await host.ferry.db.sql<{ now: Date }[]>`select now()`)[0]!.now;
  provider.delayMs = 0;

  // The running part finishes; every queued one is taken from the queue and left waiting, unrun.
  const waiting = await waitFor('the queued parts waiting, none queued or running', async () => {
    const all = await c.parts();
    return all.length > 0 && all.every((p) => p.status === 'pending' || p.status === 'succeeded') ? all : undefined;
  }, 60_000);
  expect(waiting.filter((p) => p.status === 'succeeded')).toHaveLength(1);
  expect((await partRuns()).filter((r) => r.started_at >= pausedAt)).toEqual([]);
  expect(await c.status()).toMatchObject({ paused: true, last_sync_date: null });

  expect((await c.api.post('/syncs/events/resume', { connection_id: c.conn })).status).toBe(200);
  await c.passDone();
  const runs = await partRuns();
  expect(runs.map((r) => r.part).sort()).toEqual(waiting.map((p) => p.part).sort());
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
}, 240_000);
