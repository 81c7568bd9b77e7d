/**
 * A manual trigger of a paused sync runs it, split or not. Paused mid split pass, the parts left
 * wait, pending; a manual trigger then used to answer 202 and run nothing (the pair's run only
 * re-armed parts the tick does not claim while paused). Now it runs each waiting part once,
 * despite the pause, and the pass completes with every record while the sync stays paused — as a
 * manual trigger of a paused sync that is not split runs (test/sync/stranded-scheduled.test.ts).
 * Through a whole host with one runtime worker process on real Postgres against a real provider
 * server; each attempt has an environment, a connection and a provider server of its own.
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

test('a manual trigger of a sync paused mid split pass runs its waiting parts once and completes the pass, still paused', async () => {
  const provider = await startEventsForTest(30, 1_000);
  const c = await host.connect('pause-split-trigger', eventsSplit(provider.url));
  const partRuns = async () => (await c.runs()).filter((r) => r.part !== null);

  await waitFor('a part running and the others queued', async () => {
    const all = await c.parts();
    return all.length > 2 && all.filter((p) => p.status === 'running').length === 1 && all.filter((p) => p.status === 'queued').length === all.length - 1 ? true : undefined;
  }, 60_000);
  expect((await c.api.post('/syncs/events/pause', { connection_id: c.conn })).status).toBe(200);
  provider.delayMs = 0;
  const waiting = await waitFor('the queued parts waiting, none queued or running', async () => {
    const all = await c.parts();
    return all.length > 0 && all.every((p) => p.status === 'pending' || p.status === 'succeeded') ? all : undefined;
  }, 60_000);
  const left = waiting.filter((p) => p.status === 'pending').map((p) => p.part).sort();
  expect(left.length).toBeGreaterThan(0);

  const trigger = await c.api.post('/syncs/events/trigger', { connection_id: c.conn });
  expect(trigger.status).toBe(202);
  await c.passDone();
  expect(await c.status()).toMatchObject({ paused: true });
  const runs = await partRuns();
  // Every part ran exactly once over the pass: the one before the pause, then each waiting one.
  expect(runs.map((r) => r.part).sort()).toEqual(waiting.map((p) => p.part).sort());
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
}, 240_000);
