/**
 * A split pass whose part rows are gone while its parts run is not a completed pass: the part
 * runs that settle afterwards find no part left to succeed, which must not read as "every part
 * succeeded" (that moved lastSyncDate and applied the full refresh's deletes against records the
 * pass never walked). The pair's next run starts the pass again and that one settles it. A whole
 * host with 2 runtime worker processes on real Postgres against a real provider server.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { SPLIT_SYNC, startEvents, type EventsProvider } from './split-provider.ts';

let ferry: TestFerry;
let provider: EventsProvider;
const CONN = 'events-missing';

beforeAll(async () => {
  provider = await startEvents(60, 0);
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2', FERRY_SYNC_RETRY_BASE_MS: '200' });
  await deploySources(ferry, { 'eventsp/syncs/events.ts': SPLIT_SYNC });
  expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const state = async () => (await ferry.api.get(`/syncs/events/status?connection_id=${CONN}`)).body;
const live = async () => (await readAll(ferry.api, CONN, 'Event')).records.filter((r) => r._ferry_metadata.deleted_at === null).map((r) => r.id as string).sort();
const passAfter = (after: number) => waitFor('the split pass to succeed', async () => {
  const s = await state();
  return s.last_sync_date !== null && Date.parse(s.last_sync_date) > after && s.split_pass === null ? s : undefined;
}, 120_000);

test('part runs that settle after their pass\'s parts are gone move nothing; the next run redoes the pass', async () => {
  expect((await ferry.api.post('/connections', { connection_id: CONN, provider: 'eventsp' })).status).toBe(201);
  const first = await passAfter(0);
  expect(await live()).toHaveLength(60);

  // A full pass (it tracks deletes: one walk has succeeded) whose pages are slow, so parts are
  // mid-run when their rows go.
  provider.events.delete('e010');
  provider.delayMs = 1_500;
  const [{ max: lastRun } = { max: '0' }] = await ferry.db.sql<{ max: string }[]>`select coalesce(max(id), 0)::text as max from runs`;
  expect((await ferry.api.post('/syncs/events/trigger', { connection_id: CONN, full: true })).status).toBe(202);
  const running = await waitFor('parts of the new pass running', async () => {
    const rows = await ferry.db.sql<{ id: string }[]>`select id::text from runs where id > ${lastRun} and part is not null and status = 'running'`;
    return rows.length > 0 ? rows.map((r) => r.id) : undefined;
  }, 60_000);
  await ferry.db.sql`delete from sync_parts`;
  provider.delayMs = 0;

  const settled = await waitFor('the running parts to settle', async () => {
    const rows = await ferry.db.sql<{ status: string; deleted: number }[]>`select status, deleted from runs where id in ${ferry.db.sql(running)}`;
    return rows.every((r) => r.status !== 'running') ? rows : undefined;
  }, 60_000);
  // Each part run keeps what it read (partial success) but settles no pass: nothing deleted.
  expect(settled.every((r) => r.status === 'succeeded' && r.deleted === 0)).toBe(true);
  const stuck = await state();
  expect(stuck.last_sync_date).toBe(first.last_sync_date);
  expect(await live()).toHaveLength(60);
  const [pass] = await ferry.db.sql<{ pass_started_at: Date | null }[]>`select pass_started_at from sync_state`;
  expect(pass!.pass_started_at).not.toBeNull();

  // The next run of the pair begins the unfinished full pass again, split; it walks everything.
  expect((await ferry.api.post('/syncs/events/trigger', { connection_id: CONN })).status).toBe(202);
  await passAfter(Date.parse(first.last_sync_date));
  const after = await live();
  expect(after).toHaveLength(59);
  expect(after).not.toContain('e010');
}, 240_000);
