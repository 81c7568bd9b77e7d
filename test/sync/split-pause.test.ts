/**
 * Pausing a sync mid first sync, while its split pass runs: the part running finishes, the parts
 * already queued do not start — they wait, pending, in their pass — and resuming runs them, each
 * once, and completes the pass with every record. A queued part used to run anyway (only the
 * pair's own job was skipped when paused). Through a whole host with one runtime worker process
 * (so one part runs at a time and the others stay queued behind it) on real Postgres against a
 * real provider server whose latency keeps the first part running while the test pauses.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, idForThisAttempt, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { SPLIT_SYNC, startEvents, type EventsProvider } from './split-provider.ts';

let ferry: TestFerry;
let provider: EventsProvider;

beforeAll(async () => {
  provider = await startEvents(30, 1_000);
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '1', FERRY_RESERVED_SLOTS: '0', FERRY_SYNC_RETRY_BASE_MS: '200' });
  await deploySources(ferry, { 'eventsp/syncs/events.ts': SPLIT_SYNC });
  expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('a pause mid split pass lets the running part finish and keeps the queued ones waiting; resume runs each once and completes the pass', async () => {
  const conn = idForThisAttempt('pause-split');
  const parts = () => ferry.db.sql<{ part: string; status: string }[]>`
    select p.part, p.status from sync_parts p join connections c on c.id = p.connection_id where c.connection_id = ${conn} order by p.part`;
  const partRuns = () => ferry.db.sql<{ part: string; status: string; started_at: Date }[]>`
    select r.part, r.status, r.started_at from runs r join connections c on c.id = r.connection_id
    where c.connection_id = ${conn} and r.part is not null order by r.id`;
  expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'eventsp' })).status).toBe(201);

  // One part running (slowly), the others queued behind it.
  await waitFor('a part running and the others queued', async () => {
    const all = await parts();
    return all.length > 2 && all.filter((p) => p.status === 'running').length === 1 && all.filter((p) => p.status === 'queued').length === all.length - 1 ? true : undefined;
  }, 60_000);
  expect((await ferry.api.post('/syncs/events/pause', { connection_id: conn })).status).toBe(200);
  const pausedAt = (await ferry.db.sql<{ now: Date }[]>`select now()`)[0]!.now;
  provider.delayMs = 0;

  // The running part finishes; every queued one is taken from the queue and left waiting, unrun.
  const waiting = await waitFor('the queued parts waiting, none queued or running', async () => {
    const all = await parts();
    return all.length > 0 && all.every((p) => p.status === 'pending' || p.status === 'succeeded') ? all : undefined;
  }, 60_000);
  expect(waiting.filter((p) => p.status === 'succeeded')).toHaveLength(1);
  expect((await partRuns()).filter((r) => r.started_at >= pausedAt)).toEqual([]);
  expect((await ferry.api.get(`/syncs/events/status?connection_id=${conn}`)).body).toMatchObject({ paused: true, last_sync_date: null });

  expect((await ferry.api.post('/syncs/events/resume', { connection_id: conn })).status).toBe(200);
  await waitFor('the split pass to succeed', async () => {
    const { body } = await ferry.api.get(`/syncs/events/status?connection_id=${conn}`);
    return body.last_sync_date !== null && body.split_pass === null ? body : undefined;
  }, 120_000);
  const runs = await partRuns();
  expect(runs.map((r) => r.part).sort()).toEqual(waiting.map((p) => p.part).sort());
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  const live = (await readAll(ferry.api, conn, 'Event')).records.filter((r) => r._ferry_metadata.deleted_at === null).map((r) => r.id).sort();
  expect(live).toEqual([...provider.events.keys()].sort());
}, 240_000);
