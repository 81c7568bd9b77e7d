/**
 * A split pass whose part rows are gone while its parts run is not a completed pass: the part
 * runs that settle afterwards find no part left to succeed, which must not read as "every part
 * succeeded" (that moved lastSyncDate and applied the full refresh's deletes against records the
 * pass never walked). The pair's next run starts the pass again and that one settles it. A whole
 * host with 2 runtime worker processes on real Postgres against a real provider server; each
 * attempt has an environment, a connection and a provider server of its own (startSplitHost).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';
import { eventsSplit, startEventsForTest, startSplitHost, type SplitHost } from './split-provider.ts';

let host: SplitHost;

beforeAll(async () => {
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

test('part runs that settle after their pass\'s parts are gone move nothing; the next run redoes the pass', async () => {
  const { sql } = host.ferry.db;
  const provider = await startEventsForTest(60, 0);
  const c = await host.connect('events-missing', eventsSplit(provider.url));
  const first = await c.passDone();
  expect(await c.liveIds()).toHaveLength(60);

  // A full pass (it tracks deletes: one walk has succeeded) whose pages are slow, so parts are
  // mid-run when their rows go.
  provider.events.delete('e010');
  provider.delayMs = 1_500;
  const lastRun = (await c.runs()).at(-1)!.id;
  expect((await c.api.post('/syncs/events/trigger', { connection_id: c.conn, full: true })).status).toBe(202);
  const running = await waitFor('parts of the new pass running', async () => {
    const rows = (await c.runs()).filter((r) => BigInt(r.id) > BigInt(lastRun) && r.part !== null && r.status === 'running');
    return rows.length > 0 ? rows.map((r) => r.id) : undefined;
  }, 60_000);
  await sql`delete from sync_parts p using connections c where c.id = p.connection_id and c.connection_id = ${c.conn}`;
  provider.delayMs = 0;

  const settled = await waitFor('the running parts to settle', async () => {
    const rows = (await c.runs()).filter((r) => running.includes(r.id));
    return rows.every((r) => r.status !== 'running') ? rows : undefined;
  }, 60_000);
  // Each part run keeps what it read (partial success) but settles no pass: nothing deleted.
  expect(settled.every((r) => r.status === 'succeeded' && r.deleted === 0)).toBe(true);
  const stuck = await c.status();
  expect(stuck.last_sync_date).toBe(first.last_sync_date);
  expect(await c.liveIds()).toHaveLength(60);
  expect((await c.syncState()).pass_started_at).not.toBeNull();

  // The next run of the pair begins the unfinished full pass again, split; it walks everything.
  expect((await c.api.post('/syncs/events/trigger', { connection_id: c.conn })).status).toBe(202);
  await c.passDone(first.last_sync_date);
  const after = await c.liveIds();
  expect(after).toHaveLength(59);
  expect(after).not.toContain('e010');
}, 240_000);
