/**
 * Static credentials (API key, basic auth) that stop working after the connection was made,
 * through a whole host: a provider answering 401 (or a 403 it declares as an auth failure) on a
 * proxied call marks the connection reauth_required, fails the sync run or action with
 * CONNECTION_REAUTH_REQUIRED, and sends one signed connection.auth_failed per transition, not per
 * call. A reconnect session or new credentials repair it, keeping records and sync state.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyWebhook } from '../../client/index.ts';
import { deploySources, idForThisAttempt, readAll, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { asSession, createConnectSession } from './connect-session.ts';
import { startStaticCredentialsProvider, type StaticCredentialsProvider } from './static-credentials-provider.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const ITEMS_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'items', frequency: 'every 1 hour', syncType: 'full',
  models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get<{ items: Array<{ id: string; name: string }> }>({ endpoint: '/v1/items' });
    await nango.batchSave(data.items, 'Item');
  },
});`;

// Wraps the proxy's error in its own, as many scripts do: the run still fails for the reason that matters.
const PING_ACTION = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'ping', input: z.object({}), output: z.object({ ok: z.boolean() }),
  exec: async (nango) => {
    try {
      await nango.get({ endpoint: '/v1/me' });
    } catch (err) {
      throw new Error('ping failed: ' + (err as Error).message);
    }
    return { ok: true };
  },
});`;

let ferry: TestFerry;
let provider: StaticCredentialsProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let secret: string;

beforeAll(async () => {
  provider = await startStaticCredentialsProvider();
  hooks = await startWebhookReceiver();
  ferry = await startTestFerry({ FERRY_WEBHOOK_RETRY_DELAY_S: '1', FERRY_SYNC_RETRY_BASE_MS: '50' });
  expect((await ferry.api.put('/providers/keyed', {
    display_name: 'Keyed CRM', base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' },
    connect: { verification: { endpoint: '/v1/me' } },
  })).status).toBe(200);
  expect((await ferry.api.put('/providers/passworded', {
    display_name: 'Passworded', base_url: provider.url, auth: { type: 'basic', auth_failure_statuses: [401, 403] },
  })).status).toBe(200);
  await deploySources(ferry, { 'keyed/syncs/items.ts': ITEMS_SYNC, 'keyed/actions/ping.ts': PING_ACTION });
  secret = (await ferry.api.put('/environment/settings', { webhook_url: hooks.url })).body.webhook_secret;
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await hooks?.close();
  await provider?.close();
});

/** connection.auth_failed rows written for a connection (with this error code): what was announced, counted where it is written. */
async function authFailedWritten(connectionId: string, code = 'CONNECTION_REAUTH_REQUIRED'): Promise<number> {
  const [row] = await ferry.db.sql<{ n: number }[]>`
    select count(*)::int as n from webhook_deliveries
    where event_type = 'connection.auth_failed' and payload->>'connection_id' = ${connectionId} and payload->'error'->>'code' = ${code}`;
  return row!.n;
}

async function connectWithKey(apiKey: string, body: Record<string, unknown> = {}) {
  const { token } = await createConnectSession(ferry.api, { end_user: { id: 'user-k' }, allowed_providers: ['keyed'] }, body);
  return asSession(ferry.url, token).post('/connect/providers/keyed', { apiKey });
}

const proxyGet = (connectionId: string, endpoint: string) => ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint });

/**
 * From now on the provider accepts a new key of this attempt's own and refuses every earlier one,
 * as when the end user regenerates theirs: each test rotates from where it stands, never from a
 * key an earlier test (or attempt) left behind.
 */
function acceptNewKey(label: string): string {
  provider.apiKey = `${idForThisAttempt(label)}-0123456789`;
  return provider.apiKey;
}

/** A connection made through a connect session with the key accepted now, once its first sync has saved the provider's items. */
async function connectedAndSynced(): Promise<{ connectionId: string; key: string }> {
  const key = acceptNewKey('key-connected');
  const made = await connectWithKey(key);
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const connectionId: string = made.body.connection_id;
  expect((await waitForRun(ferry.api, connectionId, 'items')).status).toBe('succeeded');
  expect((await readAll(ferry.api, connectionId, 'Item')).records).toHaveLength(3);
  return { connectionId, key };
}

/** connectedAndSynced, then the end user rotates the key and one proxied call is refused: the connection needs re-authorisation. */
async function refusedConnection(): Promise<{ connectionId: string; refusedKey: string }> {
  const { connectionId, key } = await connectedAndSynced();
  acceptNewKey('key-rotated');
  expect((await proxyGet(connectionId, '/v1/me')).status).toBe(409);
  expect((await ferry.api.get(`/connections/${connectionId}`)).body.auth_status).toBe('reauth_required');
  return { connectionId, refusedKey: key };
}

// Each test makes the connection it needs (connectedAndSynced, refusedConnection), so that CI's
// retry of one of them starts from the same state as its first attempt.
describe('an API key the provider stops accepting', () => {
  test('the first sync runs with the key the end user connected', async () => {
    await connectedAndSynced();
  });

  test('refused calls mark the connection and announce it once, however many were refused; later calls fail without reaching the provider', async () => {
    const { connectionId, key: oldKey } = await connectedAndSynced();
    acceptNewKey('key-rotated');
    const answers = await Promise.all([1, 2, 3].map(() => proxyGet(connectionId, '/v1/me')));
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 409, body: { error: { code: 'CONNECTION_REAUTH_REQUIRED' } } });
      expect(answer.body.error.message).toContain('Keyed CRM refused the stored API key (GET /v1/me answered HTTP 401)');
    }
    expect(provider.requests.filter((r) => r.credential === oldKey && r.status === 401).length).toBeGreaterThanOrEqual(1);
    expect(await authFailedWritten(connectionId)).toBe(1);

    const connection = (await ferry.api.get(`/connections/${connectionId}`)).body;
    expect(connection).toMatchObject({ auth_status: 'reauth_required', auth_error: expect.stringContaining('refused the stored API key') });

    const seen = provider.requests.length;
    expect((await proxyGet(connectionId, '/v1/me')).status).toBe(409);
    expect(provider.requests.length).toBe(seen);
    expect(await authFailedWritten(connectionId)).toBe(1);

    const delivery = await waitFor('connection.auth_failed', async () => hooks.deliveries.find((d) => d.body.includes('connection.auth_failed') && d.body.includes(connectionId)));
    expect(await verifyWebhook(secret, delivery.headers as Record<string, string>, delivery.body)).toEqual({
      type: 'connection.auth_failed', from: 'ferry', connection_id: connectionId, provider: 'keyed',
      end_user: { id: 'user-k', org_id: null },
      error: { code: 'CONNECTION_REAUTH_REQUIRED', message: 'Keyed CRM refused the stored API key (GET /v1/me answered HTTP 401)' },
    });
  });

  test('a sync run fails with CONNECTION_REAUTH_REQUIRED and is not retried; an action that wrapped the error fails with it too, as a 409', async () => {
    const { connectionId } = await refusedConnection();
    const before = (await ferry.api.get(`/runs?connection_id=${connectionId}&sync=items&limit=1`)).body.runs[0].id;
    expect((await ferry.api.post('/syncs/items/trigger', { connection_id: connectionId })).status).toBe(202);
    const run = await waitForRun(ferry.api, connectionId, 'items', before);
    expect(run).toMatchObject({ status: 'failed', error: { code: 'CONNECTION_REAUTH_REQUIRED' } });
    // A retry cannot help: the app hears sync.failed at once, and no retry is scheduled.
    const failed = await waitFor('sync.failed', async () => hooks.events('sync.failed').find((e) => e.connection_id === connectionId));
    expect(failed).toMatchObject({ run_id: run.id, error: { code: 'CONNECTION_REAUTH_REQUIRED' } });
    const [state] = await ferry.db.sql`select retry_attempt from sync_state s join connections c on c.id = s.connection_id where c.connection_id = ${connectionId}`;
    expect(state!.retry_attempt).toBe(0);

    const action = await ferry.api.post('/actions/ping', { connection_id: connectionId, input: {} });
    expect(action.status).toBe(409);
    expect(action.body.error).toMatchObject({ code: 'CONNECTION_REAUTH_REQUIRED', message: expect.stringContaining('the script then failed: ping failed') });
    expect(await authFailedWritten(connectionId)).toBe(1);
  });

  test('a reconnect session with the new key repairs the connection, keeping its records and sync state; a later refusal is a new transition', async () => {
    const { connectionId, refusedKey } = await refusedConnection();
    const [ids] = await ferry.db.sql`select id from connections where connection_id = ${connectionId}`;
    const syncState = () => ferry.db.sql`select sync_name, last_sync_date, checkpoint, next_run_at from sync_state where connection_id = ${ids!.id}`;
    const stateBefore = await syncState();
    // The old key is refused at verification: nothing changes.
    expect((await connectWithKey(refusedKey, { connection_id: connectionId })).status).toBe(422);
    expect((await ferry.api.get(`/connections/${connectionId}`)).body.auth_status).toBe('reauth_required');
    expect(await authFailedWritten(connectionId, 'INVALID_CREDENTIALS')).toBe(1);

    const repaired = await connectWithKey(provider.apiKey, { connection_id: connectionId });
    expect(repaired).toMatchObject({ status: 200, body: { connection_id: connectionId, reconnected: true } });
    expect((await ferry.api.get(`/connections/${connectionId}`)).body).toMatchObject({ auth_status: 'ok', auth_error: null });
    expect((await readAll(ferry.api, connectionId, 'Item')).records).toHaveLength(3);
    expect(await syncState()).toEqual(stateBefore);
    expect((await proxyGet(connectionId, '/v1/me')).body.status).toBe(200);
    expect((await ferry.api.post('/actions/ping', { connection_id: connectionId, input: {} })).body.output).toEqual({ ok: true });

    acceptNewKey('key-rotated-again');
    expect((await proxyGet(connectionId, '/v1/items')).status).toBe(409);
    expect(await authFailedWritten(connectionId)).toBe(2);
  });

  test('a 403 the provider does not declare as an auth failure reaches the script as it is', async () => {
    const made = await connectWithKey(provider.apiKey, { end_user: { id: 'user-f' } });
    expect(made.status).toBe(201);
    const answer = await proxyGet(made.body.connection_id, '/v1/forbidden');
    expect(answer).toMatchObject({ status: 200, body: { status: 403 } });
    expect((await ferry.api.get(`/connections/${made.body.connection_id}`)).body.auth_status).toBe('ok');
    expect(await authFailedWritten(made.body.connection_id)).toBe(0);
  });
});

describe('a password the provider stops accepting', () => {
  const create = (id: string, password: string) => ferry.api.post('/connections', { connection_id: id, provider: 'passworded', credentials: { type: 'basic', username: 'ada', password } });

  test('a 403 the provider declares as an auth failure marks the connection; PATCHed credentials repair it', async () => {
    const id = idForThisAttempt('pw-1');
    expect((await create(id, provider.password)).status).toBe(201);
    expect((await proxyGet(id, '/v1/me')).body.status).toBe(200);
    provider.password = `second-password-for-${id}`;
    const refused = await proxyGet(id, '/v1/me');
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'CONNECTION_REAUTH_REQUIRED', message: expect.stringContaining('Passworded refused the stored username and password (GET /v1/me answered HTTP 403)') } } });
    expect(await authFailedWritten(id)).toBe(1);
    const event = await waitFor(`connection.auth_failed for ${id}`, async () => hooks.events('connection.auth_failed').find((e) => e.connection_id === id));
    expect(event).toMatchObject({ provider: 'passworded', end_user: null, error: { code: 'CONNECTION_REAUTH_REQUIRED' } });

    const patched = await ferry.api.request('PATCH', `/connections/${id}`, { credentials: { type: 'basic', username: 'ada', password: provider.password } });
    expect(patched).toMatchObject({ status: 200, body: { auth_status: 'ok', auth_error: null } });
    expect((await proxyGet(id, '/v1/me')).body.status).toBe(200);
  });

  test('credentials replaced while a refused call was out are not blamed: the call is tried again with them', async () => {
    const id = idForThisAttempt('pw-2');
    expect((await create(id, provider.password)).status).toBe(201);
    const stale = provider.password;
    provider.password = `new-password-for-${id}`;
    // Only this call is held: another test's connection calling meanwhile must not take the hold.
    const held = provider.holdNext((r) => r.path === '/v1/me' && r.credential === stale);
    const call = proxyGet(id, '/v1/me');
    await held.arrived;
    // The end user fixes the password while the old one's refusal is still on its way.
    expect((await ferry.api.request('PATCH', `/connections/${id}`, { credentials: { type: 'basic', username: 'ada', password: provider.password } })).status).toBe(200);
    held.release();
    const answer = await call;
    expect(answer.body.status, JSON.stringify(answer.body)).toBe(200);
    expect(provider.requests.filter((r) => r.credential === stale).map((r) => r.status)).toContain(403);
    expect((await ferry.api.get(`/connections/${id}`)).body.auth_status).toBe('ok');
    expect(await authFailedWritten(id)).toBe(0);
  });
});
