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
import { pauseMidPass, startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;

beforeAll(async () => {
  host = await startSplitHost({ FERRY_RUNTIME_WORKERS: '1', FERRY_RESERVED_SLOTS: '0' });
}, 120_000);
afterAll(async () => {
  await host?.close();
});

test('a manual trigger of a sync paused mid split pass runs its waiting parts once and completes the pass, still paused', async () => {
  const { provider, connection: c, waiting } = await pauseMidPass(host, 'pause-split-trigger');
  const left = waiting.filter((p) => p.status === 'pending').map((p) => p.part).sort();
  expect(left.length).toBeGreaterThan(0);

  const trigger = await c.api.post('/syncs/events/trigger', { connection_id: c.conn });
  expect(trigger.status).toBe(202);
  await c.passDone();
  expect(await c.status()).toMatchObject({ paused: true });
  const runs = await c.partRuns();
  // Every part ran exactly once over the pass: the one before the pause, then each waiting one.
  expect(runs.map((r) => r.part).sort()).toEqual(waiting.map((p) => p.part).sort());
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
}, 240_000);
