/**
 * A connection whose credentials the provider stopped accepting (reauth_required) is not run on
 * schedule: every run would fail and send sync.failed. Its syncs stay due, the status says why
 * they are not running, and new credentials make the next tick run them. Through a whole host,
 * a real provider server on 127.0.0.1 that rotates its API key, and a real webhook receiver.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { asSession, createConnectSession } from '../connect/connect-session.ts';
import { startStaticCredentialsProvider, type StaticCredentialsProvider } from '../connect/static-credentials-provider.ts';
import { startWebhookReceiver } from '../connect/webhook-receiver.ts';
import { deploySources, idForThisAttempt, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';

const ITEMS_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'items', frequency: 'every 1 second', syncType: 'full',
  models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get<{ items: Array<{ id: string; name: string }> }>({ endpoint: '/v1/items' });
    await nango.batchSave(data.items, 'Item');
  },
});`;

let ferry: TestFerry;
let provider: StaticCredentialsProvider;
/** Another provider server, for the run queued before the mark (its requests are held one at a time). */
let second: StaticCredentialsProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  provider = await startStaticCredentialsProvider();
  second = await startStaticCredentialsProvider();
  hooks = await startWebhookReceiver();
  ferry = await startTestFerry({ FERRY_WEBHOOK_RETRY_DELAY_S: '1', FERRY_SYNC_RETRY_BASE_MS: '50' });
  expect((await ferry.api.put('/providers/keyed', {
    display_name: 'Keyed CRM', base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' },
  })).status).toBe(200);
  expect((await ferry.api.put('/providers/second', { base_url: second.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' } })).status).toBe(200);
  await deploySources(ferry, { 'keyed/syncs/items.ts': ITEMS_SYNC, 'second/syncs/items.ts': ITEMS_SYNC });
  expect((await ferry.api.put('/environment/settings', { webhook_url: hooks.url })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await hooks?.close();
  await provider?.close();
  await second?.close();
});

const runsOf = async (connectionId: string) => {
  return ferry.db.sql<{ id: string; status: string; trigger: string; error: { code?: string } | null }[]>`
    select r.id::text as id, r.status, r.trigger, r.error from runs r join connections c on c.id = r.connection_id
    where c.connection_id = ${connectionId} and r.kind = 'sync' order by r.id`;
};
const syncFailedWritten = async (connectionId: string) => {
  const [row] = await ferry.db.sql<{ n: number }[]>`
    select count(*)::int as n from webhook_deliveries where event_type = 'sync.failed' and payload->>'connection_id' = ${connectionId}`;
  return row!.n;
};
const status = async (connectionId: string) => (await ferry.api.get(`/syncs/items/status?connection_id=${connectionId}`)).body;

/**
 * From now on `server` accepts a key of this attempt's own and refuses every earlier one (the end
 * user regenerated it): a test rotates from where it stands, never from what another left.
 */
function acceptNewKey(server: StaticCredentialsProvider, label: string): string {
  server.apiKey = `${idForThisAttempt(label)}-0123456789`;
  return server.apiKey;
}

const pairOf = async (connectionId: string) => {
  const [pair] = await ferry.db.sql<{ waiting_reauth: boolean; next_run_at: Date }[]>`
    select s.waiting_reauth, s.next_run_at from sync_state s join connections c on c.id = s.connection_id where c.connection_id = ${connectionId}`;
  return pair!;
};

/** Sync jobs of the connection still queued or being worked: work enqueued before now that may yet start a run. */
const unfinishedJobs = async (connectionId: string) => {
  const [row] = await ferry.db.sql<{ n: number }[]>`
    select count(*)::int as n from pgboss.job j join connections c on j.data->>'connectionId' = c.id::text
    where c.connection_id = ${connectionId} and j.name = 'ferry-sync' and j.state in ('created', 'retry', 'active')`;
  return row!.n;
};

/** A connection of this attempt's own to `keyed`, with the key accepted now, once a run of it has succeeded. */
async function workingConnection(): Promise<string> {
  const connectionId = idForThisAttempt('reauth-1');
  const made = await ferry.api.post('/connections', { connection_id: connectionId, provider: 'keyed', credentials: { type: 'api_key', apiKey: acceptNewKey(provider, 'keyed-key') } });
  expect(made.status).toBe(201);
  await waitFor('a first succeeded run', async () => ((await runsOf(connectionId)).some((r) => r.status === 'succeeded') ? true : undefined));
  return connectionId;
}

/** workingConnection, then the provider stops accepting its key and a proxied call marks it (a scheduled run in flight may be the one to mark it). */
async function markedConnection(): Promise<string> {
  const connectionId = await workingConnection();
  acceptNewKey(provider, 'keyed-key-rotated');
  await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/v1/me' });
  expect((await ferry.api.get(`/connections/${connectionId}`)).body.auth_status).toBe('reauth_required');
  return connectionId;
}

// Each test makes the connection it needs (workingConnection, markedConnection), so that CI's
// retry of one of them starts from the same state as its first attempt.
describe('a connection that needs re-authorisation', () => {
  test('runs on its 1-second schedule while its key works', async () => {
    const connectionId = await workingConnection();
    const runs = await waitFor('three succeeded runs, two of them scheduled', async () => {
      const all = await runsOf(connectionId);
      return all.filter((r) => r.status === 'succeeded' && r.trigger === 'schedule').length >= 3 ? all : undefined;
    });
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    expect(await status(connectionId)).toMatchObject({ blocked: null });
  });

  test('once the provider refuses its key, no run starts on schedule and no sync.failed is sent; the status says why', async () => {
    const connectionId = await markedConnection();
    // Whatever was running or queued when it was marked finishes first (a queued run is skipped).
    await waitFor('no run going and no sync job left from before the mark', async () =>
      ((await runsOf(connectionId)).some((r) => r.status === 'running') || (await unfinishedJobs(connectionId)) > 0 ? undefined : true));
    const before = await runsOf(connectionId);
    const failedBefore = await syncFailedWritten(connectionId);
    expect(failedBefore).toBeLessThanOrEqual(1);
    const { next_run_at: dueBefore } = await pairOf(connectionId);

    // Four periods of the schedule passed over: each claim moves the pair's next run on by one.
    const pair = await waitFor('the pair passed over four times', async () => {
      const now = await pairOf(connectionId);
      return now.next_run_at.getTime() >= dueBefore.getTime() + 4000 ? now : undefined;
    });
    expect(await runsOf(connectionId)).toEqual(before);
    expect(await syncFailedWritten(connectionId)).toBe(failedBefore);
    const now = await status(connectionId);
    expect(now).toMatchObject({
      state: 'blocked',
      blocked: { code: 'CONNECTION_REAUTH_REQUIRED', message: expect.stringContaining(`connection ${connectionId} needs re-authorisation`) },
    });
    expect(now.blocked.message).toContain('refused the stored API key');
    // Passed over, not left due (such pairs would pile up at the head of every tick's scan): its
    // next run moves on with the schedule, and the pair remembers why it did not run.
    expect(pair.waiting_reauth).toBe(true);
  });

  test('new credentials clear the flag: its syncs run at once, then on schedule again', async () => {
    const connectionId = await markedConnection();
    await waitFor('the pair passed over', async () => ((await pairOf(connectionId)).waiting_reauth ? true : undefined));
    // An hourly schedule meanwhile: a run in the next seconds can only be the one new credentials make due.
    expect((await ferry.api.put('/syncs/items/schedule', { connection_id: connectionId, frequency: 'every 1 hour' })).status).toBe(200);
    await waitFor('no run going', async () => ((await runsOf(connectionId)).some((r) => r.status === 'running') ? undefined : true));
    const lastBefore = (await runsOf(connectionId)).at(-1)!.id;
    const patched = await ferry.api.request('PATCH', `/connections/${connectionId}`, { credentials: { type: 'api_key', apiKey: provider.apiKey } });
    expect(patched).toMatchObject({ status: 200, body: { auth_status: 'ok' } });
    const newer = async () => (await runsOf(connectionId)).filter((r) => BigInt(r.id) > BigInt(lastBefore) && r.status !== 'running');
    const [first] = await waitFor('the run new credentials made due', async () => ((await newer()).length >= 1 ? newer() : undefined), 60_000);
    expect(first).toMatchObject({ status: 'succeeded', trigger: 'schedule' });
    expect(await status(connectionId)).toMatchObject({ blocked: null, state: 'idle' });

    // Back to its own 1-second schedule: scheduled runs go on.
    expect((await ferry.api.put('/syncs/items/schedule', { connection_id: connectionId, frequency: null })).status).toBe(200);
    const resumed = await waitFor('two more scheduled runs', async () => {
      const after = await newer();
      return after.length >= 3 ? after : undefined;
    }, 15_000);
    for (const run of resumed) expect(run).toMatchObject({ status: 'succeeded', trigger: 'schedule' });
  });
});

describe('a scheduled run queued before the connection was marked', () => {
  test('is skipped when its turn comes: no run, no sync.failed', async () => {
    const connectionId = idForThisAttempt('reauth-2');
    expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'second', credentials: { type: 'api_key', apiKey: second.apiKey } })).status).toBe(201);
    await waitFor('a first succeeded run', async () => ((await runsOf(connectionId)).some((r) => r.status === 'succeeded') ? true : undefined));
    // The next scheduled run's provider call is held: that run stays active while the tick
    // queues the one after it (one queued beside one active per pair).
    const held = second.holdNext();
    await held.arrived;
    const [conn] = await ferry.db.sql<{ id: string }[]>`select id::text from connections where connection_id = ${connectionId}`;
    const queuedJob = await waitFor('the next run queued', async () => {
      const [job] = await ferry.db.sql<{ id: string }[]>`
        select id::text from pgboss.job where name = 'ferry-sync' and state = 'created' and data->>'connectionId' = ${conn!.id}`;
      return job?.id;
    });
    const runsBefore = await runsOf(connectionId);
    expect(runsBefore.filter((r) => r.status === 'running')).toHaveLength(1);

    // The provider stops accepting the key; a proxied call marks the connection.
    acceptNewKey(second, 'second-key-rotated');
    expect((await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/v1/me' })).status).toBe(409);
    // The held call was answered with the old key's 200: that run succeeds.
    held.release();
    await waitFor('the held run to finish', async () => ((await runsOf(connectionId)).some((r) => r.status === 'running') ? undefined : true));
    // The queued job is taken and ends without a run.
    await waitFor('the queued job done', async () => {
      const [job] = await ferry.db.sql<{ state: string }[]>`select state from pgboss.job where id = ${queuedJob}::uuid`;
      return job?.state === 'completed' ? true : undefined;
    });
    // And the scheduler passes the pair over after it (its next run moves on a period, no run starts).
    const { next_run_at: dueAfterSkip } = await pairOf(connectionId);
    await waitFor('the pair passed over once more', async () => ((await pairOf(connectionId)).next_run_at > dueAfterSkip ? true : undefined));
    const after = await runsOf(connectionId);
    expect(after.map((r) => r.id)).toEqual(runsBefore.map((r) => r.id));
    expect(after.every((r) => r.status === 'succeeded')).toBe(true);
    expect(await syncFailedWritten(connectionId)).toBe(0);
    expect((await status(connectionId)).blocked).toMatchObject({ code: 'CONNECTION_REAUTH_REQUIRED' });

    // The skipped run is owed: new credentials run the sync at once, even on an hourly schedule.
    expect((await ferry.api.put('/syncs/items/schedule', { connection_id: connectionId, frequency: 'every 1 hour' })).status).toBe(200);
    expect((await ferry.api.request('PATCH', `/connections/${connectionId}`, { credentials: { type: 'api_key', apiKey: second.apiKey } })).status).toBe(200);
    const next = await waitFor('the owed run', async () => {
      const run = (await runsOf(connectionId)).find((r) => !after.some((a) => a.id === r.id) && r.status !== 'running');
      return run;
    }, 10_000);
    expect(next).toMatchObject({ status: 'succeeded', trigger: 'schedule' });
  });
});

describe('a reconnect session', () => {
  test('runs the syncs passed over while the connection needed re-authorisation at once', async () => {
    const third = await startStaticCredentialsProvider();
    try {
      expect((await ferry.api.put('/providers/third', {
        base_url: third.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' }, connect: { verification: { endpoint: '/v1/me' } },
      })).status).toBe(200);
      await deploySources(ferry, { 'keyed/syncs/items.ts': ITEMS_SYNC, 'second/syncs/items.ts': ITEMS_SYNC, 'third/syncs/items.ts': ITEMS_SYNC });
      const connectWithKey = async (apiKey: string, body: Record<string, unknown> = {}) => {
        const { token } = await createConnectSession(ferry.api, { end_user: { id: 'user-r' }, allowed_providers: ['third'] }, body);
        return asSession(ferry.url, token).post('/connect/providers/third', { apiKey });
      };
      const made = await connectWithKey(third.apiKey);
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      const connectionId: string = made.body.connection_id;
      await waitFor('a first succeeded run', async () => ((await runsOf(connectionId)).some((r) => r.status === 'succeeded') ? true : undefined));

      third.apiKey = 'third-rotated-0123456789';
      expect((await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/v1/me' })).status).toBe(409);
      await waitFor('no run going', async () => ((await runsOf(connectionId)).some((r) => r.status === 'running') ? undefined : true));
      // Passed over at least once (the 1-second schedule), then an hourly schedule: only the reconnect can make it due soon.
      await waitFor('the pair passed over', async () => {
        const [pair] = await ferry.db.sql<{ waiting_reauth: boolean }[]>`
          select s.waiting_reauth from sync_state s join connections c on c.id = s.connection_id where c.connection_id = ${connectionId}`;
        return pair?.waiting_reauth ? true : undefined;
      });
      expect((await ferry.api.put('/syncs/items/schedule', { connection_id: connectionId, frequency: 'every 1 hour' })).status).toBe(200);
      const before = await runsOf(connectionId);

      const repaired = await connectWithKey(third.apiKey, { connection_id: connectionId });
      expect(repaired).toMatchObject({ status: 200, body: { connection_id: connectionId, reconnected: true } });
      const next = await waitFor('the run the reconnect made due', async () =>
        (await runsOf(connectionId)).find((r) => !before.some((b) => b.id === r.id) && r.status !== 'running'), 10_000);
      expect(next).toMatchObject({ status: 'succeeded', trigger: 'schedule' });
    } finally {
      await third.close();
    }
  });
});
