/**
 * Parallel first sync: a sync declaring `split` runs a full pass as time-window parts, each its
 * own run, through a whole host with 2 runtime worker processes on real Postgres against a real
 * provider server. The parts run side by side; the pass moves lastSyncDate and applies
 * full-refresh deletes only when its last part succeeds; a failing part moves nothing and loses
 * no other part's records, and once it succeeds the deletes apply once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { DAY, SPLIT_SYNC, START, startEvents, type EventsProvider } from './split-provider.ts';

let ferry: TestFerry;
let provider: EventsProvider;
const CONN = 'events-1';

beforeAll(async () => {
  provider = await startEvents(60);
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2', FERRY_SYNC_RETRY_BASE_MS: '200' });
  await deploySources(ferry, { 'eventsp/syncs/events.ts': SPLIT_SYNC });
  expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

interface RunRow { id: string; part: string | null; status: string; started_at: Date; finished_at: Date | null; deleted: number; resumed: boolean; fetch_checkpoint: unknown }
const runsOf = () => ferry.db.sql<RunRow[]>`
  select r.id, r.part, r.status, r.started_at, r.finished_at, r.deleted, r.resumed, r.fetch_checkpoint
  from runs r join connections c on c.id = r.connection_id where c.connection_id = ${CONN} order by r.id`;
const state = async () => (await ferry.api.get(`/syncs/events/status?connection_id=${CONN}`)).body;
const live = async () => (await readAll(ferry.api, CONN, 'Event')).records.filter((r) => r._ferry_metadata.deleted_at === null).map((r) => r.id).sort();
const passDone = (after: Date | null) => waitFor('the split pass to succeed', async () => {
  const s = await state();
  return s.last_sync_date !== null && (after === null || Date.parse(s.last_sync_date) > after.getTime()) && s.split_pass === null ? s : undefined;
}, 120_000);

describe('a split full pass', () => {
  test('the first sync runs as parts side by side on 2 worker processes; lastSyncDate moves once every part has succeeded', async () => {
    expect((await ferry.api.post('/connections', { connection_id: CONN, provider: 'eventsp' })).status).toBe(201);
    const progress = await waitFor('the split', async () => (await state()).split_pass ?? undefined);
    // 2024-01-01 to now (2026-12) in 180-day windows.
    const expectedParts = Math.ceil((Date.now() - START) / (180 * DAY));
    expect(progress.parts).toBe(expectedParts);

    const done = await passDone(null);
    const runs = await runsOf();
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
    expect(await live()).toEqual([...provider.events.keys()].sort());
    const windowsRead = new Set(provider.requests.map((r) => r.from));
    expect(windowsRead.size).toBe(expectedParts);
    const run = (await ferry.api.get(`/runs/${parts[0]!.id}`)).body;
    expect(run.part).toBe(parts[0]!.part);
  });

  test('a failing part moves nothing and loses no other part\'s records; once it succeeds the deletes apply, once', async () => {
    const before = await state();
    const gone = ['e005', 'e050'];
    for (const id of gone) provider.events.delete(id);
    // The window holding e030 fails on every request.
    const windows = [...new Set(provider.requests.map((r) => r.from))].sort();
    const at030 = new Date(provider.events.get('e030')!).toISOString();
    provider.failFrom = windows.filter((w) => w <= at030).at(-1)!;
    provider.events.set('e030', provider.events.get('e030')!); // unchanged
    provider.requests.length = 0;

    expect((await ferry.api.post('/syncs/events/trigger', { connection_id: CONN, full: true })).status).toBe(202);
    const stuck = await waitFor('every part but the failing one to succeed, and that one to give up', async () => {
      const s = await state();
      return s.split_pass && s.split_pass.given_up === 1 && s.split_pass.succeeded === s.split_pass.parts - 1 ? s : undefined;
    }, 120_000);
    // lastSyncDate did not move; the two events gone from the provider are not deleted.
    expect(stuck.last_sync_date).toBe(before.last_sync_date);
    const stillLive = await live();
    for (const id of gone) expect(stillLive).toContain(id);
    expect(stillLive).toHaveLength(60);
    expect(stuck.consecutive_failures).toBeGreaterThan(0);
    // The latest run may be a part that succeeded; the pass is held back by the given-up part.
    expect(stuck.state).toBe('failing');

    // The next run of the sync re-arms the part that gave up; it succeeds and settles the pass.
    provider.failFrom = null;
    const lastRun = (await runsOf()).at(-1)!.id;
    expect((await ferry.api.post('/syncs/events/trigger', { connection_id: CONN })).status).toBe(202);
    const done = await passDone(new Date(before.last_sync_date));
    const after = (await runsOf()).filter((r) => BigInt(r.id) > BigInt(lastRun));
    const settling = after.filter((r) => r.part !== null && r.status === 'succeeded');
    expect(settling).toHaveLength(1);
    expect(settling[0]!.deleted).toBe(2);
    expect(await live()).toEqual([...provider.events.keys()].sort());
    // Applied once: the deletes were counted by that run only, and the records stay deleted.
    const [total] = await ferry.db.sql<{ deleted: number }[]>`select sum(deleted)::int as deleted from runs where id > ${lastRun}`;
    expect(total!.deleted).toBe(2);
    expect(Date.parse(done.last_sync_date)).toBeGreaterThan(Date.parse(before.last_sync_date));
  });

  test('a split that cannot be planned is refused at deploy, naming why', async () => {
    const refused = await deploySources(ferry, { 'eventsp/syncs/events.ts': SPLIT_SYNC, 'eventsp/syncs/tiny.ts': SPLIT_SYNC.replace("every: '180 days'", "every: '1 minute'") })
      .then(() => null, (err: Error) => err);
    expect(refused?.message).toMatch(/at most 1000/);
    const bad = await deploySources(ferry, { 'eventsp/syncs/events.ts': SPLIT_SYNC, 'eventsp/syncs/odd.ts': SPLIT_SYNC.replace("from: '2024-01-01T00:00:00Z'", "from: 'someday'") })
      .then(() => null, (err: Error) => err);
    expect(bad?.message).toContain('neither an ISO date nor a duration');
  });
});
