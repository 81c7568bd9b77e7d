/**
 * A split pass whose provider entry is removed while its parts are due: the parts claimed for
 * runs that cannot start are held (pending, not due) instead of staying "queued" for ever, the
 * status says why, and configuring the provider again makes them due: the pass completes.
 * Through a whole host on real Postgres against a real provider server.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { SPLIT_SYNC, startEvents, type EventsProvider } from './split-provider.ts';

let ferry: TestFerry;
let provider: EventsProvider;
const CONN = 'held-1';
// Paused until resumed: the test removes the provider between the split and its parts' turn.
const PAUSED_SPLIT_SYNC = SPLIT_SYNC.replace("frequency: 'every 1 hour',", "frequency: 'every 1 hour', autoStart: false,");

beforeAll(async () => {
  provider = await startEvents(24, 20);
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2' });
  expect(PAUSED_SPLIT_SYNC).toContain('autoStart: false');
  await deploySources(ferry, { 'eventsp/syncs/events.ts': PAUSED_SPLIT_SYNC, 'eventsk/syncs/events.ts': PAUSED_SPLIT_SYNC });
  expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  // The same events server behind an API key; a 404 counts as a refused key, so a call to an unknown path marks the connection.
  expect((await ferry.api.put('/providers/eventsk', { base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key', auth_failure_statuses: [404] } })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const parts = (conn = CONN) => ferry.db.sql<{ part: string; status: string; next_run_at: Date | null }[]>`
  select p.part, p.status, p.next_run_at from sync_parts p join connections c on c.id = p.connection_id where c.connection_id = ${conn} order by p.part`;
const partRuns = async (conn = CONN) => {
  const [row] = await ferry.db.sql<{ n: number }[]>`
    select count(*)::int as n from runs r join connections c on c.id = r.connection_id where c.connection_id = ${conn} and r.part is not null`;
  return row!.n;
};
const status = async (conn = CONN) => (await ferry.api.get(`/syncs/events/status?connection_id=${conn}`)).body;

describe('split parts whose provider is not configured', () => {
  test('are held with the reason shown, not left queued', async () => {
    expect((await ferry.api.post('/connections', { connection_id: CONN, provider: 'eventsp' })).status).toBe(201);
    expect((await ferry.api.post('/syncs/events/trigger', { connection_id: CONN })).status).toBe(202);
    const split = await waitFor('the split', async () => (await status()).split_pass ?? undefined);
    expect(split).toMatchObject({ succeeded: 0, running: 0, held: 0 });
    expect(await partRuns()).toBe(0);

    expect((await ferry.api.request('DELETE', '/providers/eventsp')).status).toBe(204);
    expect((await ferry.api.post('/syncs/events/resume', { connection_id: CONN })).status).toBe(200);
    // Every part was claimed, found its provider gone, and is held.
    const held = await waitFor('every part held', async () => {
      const rows = await parts();
      return rows.every((p) => p.status === 'pending' && p.next_run_at === null) ? rows : undefined;
    });
    expect(held).toHaveLength(split.parts);
    // Ticks go on (5 a second): a held part is not claimed again and again, and no run starts.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await parts()).toEqual(held);
    expect(await partRuns()).toBe(0);
    const s = await status();
    expect(s).toMatchObject({
      state: 'blocked',
      blocked: { code: 'PROVIDER_NOT_CONFIGURED', message: expect.stringContaining('provider eventsp is not configured') },
      split_pass: { parts: split.parts, held: split.parts, succeeded: 0 },
      last_sync_date: null,
    });
  });

  test('configuring the provider makes them due: the pass completes and reads every event once', async () => {
    expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
    const done = await waitFor('the split pass to succeed', async () => {
      const s = await status();
      return s.last_sync_date !== null && s.split_pass === null ? s : undefined;
    }, 60_000);
    expect(done.blocked).toBeNull();
    const live = (await readAll(ferry.api, CONN, 'Event')).records.map((r) => r.id).sort();
    expect(live).toEqual([...provider.events.keys()].sort());
    expect(await partRuns()).toBeGreaterThanOrEqual(2);
  });
});

describe('split parts of a connection that needs re-authorisation', () => {
  const conn = 'held-key';

  test('are held with the reason shown; new credentials make them due and the pass completes', async () => {
    const credentials = { type: 'api_key', apiKey: 'events-key-0123456789' };
    expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'eventsk', credentials })).status).toBe(201);
    expect((await ferry.api.post('/syncs/events/trigger', { connection_id: conn })).status).toBe(202);
    const split = await waitFor('the split', async () => (await status(conn)).split_pass ?? undefined);

    // The provider "refuses" the key (a 404, declared an auth failure): the connection is marked.
    expect((await ferry.api.post(`/connections/${conn}/proxy`, { method: 'GET', endpoint: '/nope' })).status).toBe(409);
    expect((await ferry.api.get(`/connections/${conn}`)).body.auth_status).toBe('reauth_required');
    expect((await ferry.api.post('/syncs/events/resume', { connection_id: conn })).status).toBe(200);
    const held = await waitFor('every part held', async () => {
      const rows = await parts(conn);
      return rows.every((p) => p.status === 'pending' && p.next_run_at === null) ? rows : undefined;
    });
    expect(held).toHaveLength(split.parts);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await parts(conn)).toEqual(held);
    expect(await partRuns(conn)).toBe(0);
    expect(await status(conn)).toMatchObject({ state: 'blocked', blocked: { code: 'CONNECTION_REAUTH_REQUIRED' }, split_pass: { held: split.parts } });

    expect((await ferry.api.request('PATCH', `/connections/${conn}`, { credentials })).status).toBe(200);
    const done = await waitFor('the split pass to succeed', async () => {
      const s = await status(conn);
      return s.last_sync_date !== null && s.split_pass === null ? s : undefined;
    }, 60_000);
    expect(done.blocked).toBeNull();
    expect((await readAll(ferry.api, conn, 'Event')).records.map((r) => r.id).sort()).toEqual([...provider.events.keys()].sort());
  });
});
