/**
 * A split pass whose provider entry is removed while its parts are due: the parts claimed for
 * runs that cannot start are held (pending, not due) instead of staying "queued" for ever, the
 * status says why, and configuring the provider again makes them due: the pass completes.
 * Through a whole host on real Postgres against a real provider server; each test (and each
 * attempt of one) has an environment, a connection and a provider server of its own
 * (startSplitHost), so none starts from a provider another removed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';
import { eventsSplit, SPLIT_SYNC, startEventsForTest, startSplitHost, type SplitConnection, type SplitHost } from './split-provider.ts';

let host: SplitHost;
// Paused until resumed: the test removes the provider between the split and its parts' turn.
const PAUSED_SPLIT_SYNC = SPLIT_SYNC.replace("frequency: 'every 1 hour',", "frequency: 'every 1 hour', autoStart: false,");

beforeAll(async () => {
  expect(PAUSED_SPLIT_SYNC).toContain('autoStart: false');
  host = await startSplitHost();
}, 120_000);
afterAll(async () => {
  await host?.close();
});

const partRuns = async (c: SplitConnection) => (await c.runs()).filter((r) => r.part !== null).length;
/** Triggered while paused: the split run plans the parts, none of which runs until the sync is resumed. */
async function splitWhilePaused(c: SplitConnection) {
  expect((await c.api.post('/syncs/events/trigger', { connection_id: c.conn })).status).toBe(202);
  const split = await waitFor('the split', async () => (await c.status()).split_pass ?? undefined);
  expect(await partRuns(c)).toBe(0);
  return split;
}
/** Resumed, every part is claimed, cannot start, and is held: pending, not due. */
async function resumedAndHeld(c: SplitConnection, parts: number) {
  expect((await c.api.post('/syncs/events/resume', { connection_id: c.conn })).status).toBe(200);
  const held = await waitFor('every part held', async () => {
    const rows = await c.parts();
    return rows.every((p) => p.status === 'pending' && p.next_run_at === null) ? rows : undefined;
  });
  expect(held).toHaveLength(parts);
  return held;
}

/** A connection whose split pass's parts are held because its provider entry was deleted after the split. */
async function heldForMissingProvider(base: string) {
  const provider = await startEventsForTest(24, 20);
  const c = await host.connect(base, eventsSplit(provider.url, PAUSED_SPLIT_SYNC));
  const split = await splitWhilePaused(c);
  expect(split).toMatchObject({ succeeded: 0, running: 0, held: 0 });
  expect((await c.api.request('DELETE', '/providers/eventsp')).status).toBe(204);
  const held = await resumedAndHeld(c, split.parts);
  return { c, provider, split, held };
}

describe('split parts whose provider is not configured', () => {
  test('are held with the reason shown, not left queued', async () => {
    const { c, split, held } = await heldForMissingProvider('held');
    // Ticks go on (5 a second): a held part is not claimed again and again, and no run starts.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await c.parts()).toEqual(held);
    expect(await partRuns(c)).toBe(0);
    expect(await c.status()).toMatchObject({
      state: 'blocked',
      blocked: { code: 'PROVIDER_NOT_CONFIGURED', message: expect.stringContaining('provider eventsp is not configured') },
      split_pass: { parts: split.parts, held: split.parts, succeeded: 0 },
      last_sync_date: null,
    });
  });

  test('configuring the provider makes them due: the pass completes and reads every event once', async () => {
    const { c, provider } = await heldForMissingProvider('held-configured');
    expect((await c.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
    const done = await c.passDone();
    expect(done.blocked).toBeNull();
    expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
    expect(await partRuns(c)).toBeGreaterThanOrEqual(2);
  }, 180_000);
});

describe('split parts of a connection that needs re-authorisation', () => {
  test('are held with the reason shown; new credentials make them due and the pass completes', async () => {
    const provider = await startEventsForTest(24, 20);
    // The events server behind an API key; a 404 counts as a refused key, so a call to an unknown path marks the connection.
    const env = await host.environment('held-key', {
      ...eventsSplit(provider.url, PAUSED_SPLIT_SYNC), auth: { type: 'api_key', in: 'header', name: 'x-api-key', auth_failure_statuses: [404] },
    });
    const credentials = { type: 'api_key', apiKey: 'events-key-0123456789' };
    const c = await env.connect({ credentials });
    const split = await splitWhilePaused(c);

    // The provider "refuses" the key (a 404, declared an auth failure): the connection is marked.
    expect((await c.api.post(`/connections/${c.conn}/proxy`, { method: 'GET', endpoint: '/nope' })).status).toBe(409);
    expect((await c.api.get(`/connections/${c.conn}`)).body.auth_status).toBe('reauth_required');
    const held = await resumedAndHeld(c, split.parts);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await c.parts()).toEqual(held);
    expect(await partRuns(c)).toBe(0);
    expect(await c.status()).toMatchObject({ state: 'blocked', blocked: { code: 'CONNECTION_REAUTH_REQUIRED' }, split_pass: { held: split.parts } });

    expect((await c.api.request('PATCH', `/connections/${c.conn}`, { credentials })).status).toBe(200);
    const done = await c.passDone();
    expect(done.blocked).toBeNull();
    expect(await c.liveIds()).toEqual([...provider.events.keys()].sort());
  }, 180_000);
});
