/**
 * Parallel first sync: a sync declaring `split` runs a full pass as time-window parts, each its
 * own run, through a whole host with 2 runtime worker processes on real Postgres against a real
 * provider server. The parts run side by side; the pass moves lastSyncDate and applies
 * full-refresh deletes only when its last part succeeds; a failing part moves nothing and loses
 * no other part's records, and once it succeeds the deletes apply once. Each test has an
 * environment, a connection and a provider server of its own (startSplitHost).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';
import { DAY, eventsSplit, SPLIT_SYNC, START, startEventsForTest, startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;

beforeAll(async () => {
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

/** A test that waits for whole passes (each wait up to 120 s) gets longer than vitest's 60 s. */
const PASS_TEST_TIMEOUT_MS = 240_000;

describe('a split full pass', () => {
  test('the first sync runs as parts side by side on 2 worker processes; lastSyncDate moves once every part has succeeded', async () => {
    const provider = await startEventsForTest(60);
    const c = await host.connect('events', eventsSplit(provider.url));
    const progress = await waitFor('the split', async () => (await c.status()).split_pass ?? undefined);
    // 2024-01-01 to now (2026-12) in 180-day windows.
    const expectedParts = Math.ceil((Date.now() - START) / (180 * DAY));
    expect(progress.parts).toBe(expectedParts);

    const done = await c.passDone();
    const runs = await c.runs();
    const splitter = runs.find((r) => r.part === null)!;
    const parts = runs.filter((r) => r.part !== null);
    expect(splitter.status).toBe('succeeded');
    expect(new Set(parts.map((r) => r.part)).size).toBe(expectedParts);
    expect(parts.every((r) => r.status === 'succeeded')).toBe(true);
    // The pass is the one the splitting run began: lastSyncDate is its start.
    expect(Date.parse(done.last_sync_date)).toBe(splitter.started_at.getTime());
    // Side by side: some parts' runs overlap in time (one runtime worker process runs one at a time).
    const overlapping = parts.some((a) => parts.some((b) => a !== b && a.started_at < b.finished_at! && b.started_at < a.finished_at!));
    expect(overlapping).toBe(true);
    // Each part read its own window only; together every event, once.
    expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
    const windowsRead = new Set(provider.requests.map((r) => r.from));
    expect(windowsRead.size).toBe(expectedParts);
    const run = (await c.api.get(`/runs/${parts[0]!.id}`)).body;
    expect(run.part).toBe(parts[0]!.part);
  }, PASS_TEST_TIMEOUT_MS);

  test('a failing part moves nothing and loses no other part\'s records; once it succeeds the deletes apply, once', async () => {
    // A connection whose first split pass has succeeded, read every window once.
    const provider = await startEventsForTest(60);
    const c = await host.connect('events-failing', eventsSplit(provider.url));
    const before = await c.passDone();
    expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());

    const gone = ['e005', 'e050'];
    for (const id of gone) provider.events.delete(id);
    // The window holding e030 fails on every request.
    const windows = [...new Set(provider.requests.map((r) => r.from))].sort();
    const at030 = new Date(provider.events.get('e030')!).toISOString();
    provider.failFrom = windows.filter((w) => w <= at030).at(-1)!;
    provider.requests.length = 0;

    expect((await c.api.post('/syncs/events/trigger', { connection_id: c.conn, full: true })).status).toBe(202);
    const stuck = await waitFor('every part but the failing one to succeed, and that one to give up', async () => {
      const s = await c.status();
      return s.split_pass && s.split_pass.given_up === 1 && s.split_pass.succeeded === s.split_pass.parts - 1 ? s : undefined;
    }, 120_000);
    // lastSyncDate did not move; the two events gone from the provider are not deleted.
    expect(stuck.last_sync_date).toBe(before.last_sync_date);
    const stillLive = await c.liveIds();
    for (const id of gone) expect(stillLive).toContain(id);
    expect(stillLive).toHaveLength(60);
    expect(stuck.consecutive_failures).toBeGreaterThan(0);
    // The latest run may be a part that succeeded; the pass is held back by the given-up part.
    expect(stuck.state).toBe('failing');

    // The next run of the sync re-arms the part that gave up; it succeeds and settles the pass.
    provider.failFrom = null;
    const lastRun = (await c.runs()).at(-1)!.id;
    expect((await c.api.post('/syncs/events/trigger', { connection_id: c.conn })).status).toBe(202);
    const done = await c.passDone(before.last_sync_date);
    const after = (await c.runs()).filter((r) => BigInt(r.id) > BigInt(lastRun));
    const settling = after.filter((r) => r.part !== null && r.status === 'succeeded');
    expect(settling).toHaveLength(1);
    expect(settling[0]!.deleted).toBe(2);
    expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
    // Applied once: the deletes were counted by that run only, and the records stay deleted.
    expect(after.reduce((sum, r) => sum + r.deleted, 0)).toBe(2);
    expect(Date.parse(done.last_sync_date)).toBeGreaterThan(Date.parse(before.last_sync_date));
  }, PASS_TEST_TIMEOUT_MS);

  test('a split that cannot be planned is refused at deploy, naming why', async () => {
    // Deploys only: no connection, so the provider is never called.
    const env = await host.environment('events-refused', eventsSplit('http://127.0.0.1:9'));
    const refused = await env.deploy({ 'syncs/events.ts': SPLIT_SYNC, 'syncs/tiny.ts': SPLIT_SYNC.replace("every: '180 days'", "every: '1 minute'") })
      .then(() => null, (err: Error) => err);
    expect(refused?.message).toMatch(/at most 1000/);
    const bad = await env.deploy({ 'syncs/events.ts': SPLIT_SYNC, 'syncs/odd.ts': SPLIT_SYNC.replace("from: '2024-01-01T00:00:00Z'", "from: 'someday'") })
      .then(() => null, (err: Error) => err);
    expect(bad?.message).toContain('neither an ISO date nor a duration');
  });
});
