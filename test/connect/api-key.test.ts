/**
 * Connect for API-key providers through a whole host over HTTP (the headless API; the hosted
 * page drives the same routes in browser.test.ts): the session decides environment, end user
 * and providers; credentials are checked with the provider's declared request before anything is
 * saved; the app hears connection.created / connection.auth_failed, signed in the Standard
 * Webhooks format and verified with ferry/client's verifyWebhook.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyWebhook } from '../../client/index.ts';
import { idForThisAttempt, newEnvironment, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { startTestProvider, type TestProvider } from '../proxy/provider-server.ts';
import { asSession as asSessionOf, createConnectSession } from './connect-session.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const ADMIN_KEY = 'admin_key_0123456789abcdef';
let ferry: TestFerry;
let provider: TestProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let secret: string;

beforeAll(async () => {
  provider = await startTestProvider();
  hooks = await startWebhookReceiver();
  ferry = await startTestFerry({ FERRY_ADMIN_KEY: ADMIN_KEY, FERRY_WEBHOOK_RETRY_DELAY_S: '1' });
  expect((await ferry.api.put('/providers/keyed', {
    display_name: 'Keyed CRM', base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' },
    connect: { verification: { endpoint: '/v1/me' }, credential_labels: { apiKey: 'Workspace API key' } },
  })).status).toBe(200);
  expect((await ferry.api.put('/providers/other', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
  const settings = await ferry.api.put('/environment/settings', { webhook_url: hooks.url });
  secret = settings.body.webhook_secret;
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await hooks?.close();
  await provider?.close();
});

const newSession = (body: Record<string, unknown> = {}, api = ferry.api) =>
  createConnectSession(api, { end_user: { id: 'user-42', email: 'ada@example.com' }, organization: { id: 'org-7' }, allowed_providers: ['keyed'] }, body);
const asSession = (token: string) => asSessionOf(ferry.url, token);

describe('connect sessions', () => {
  test('bad input is a 400 naming the field; unknown providers and connections are refused', async () => {
    const missing = await ferry.api.post('/connect/sessions', { allowed_providers: ['keyed'] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.issues.map((i: any) => i.path.join('.'))).toContain('body.end_user');
    expect((await ferry.api.post('/connect/sessions', { end_user: { id: 'u' }, allowed_providers: ['nope'] })).body.error.code).toBe('UNKNOWN_PROVIDER');
    expect((await ferry.api.post('/connect/sessions', { end_user: { id: 'u' }, connection_id: 'no-such' })).status).toBe(404);
    expect((await ferry.api.post('/connect/sessions', { end_user: { id: 'u' }, ttl_seconds: 999_999 })).status).toBe(400);
    expect((await ferry.api.request('POST', '/connect/sessions', { end_user: { id: 'u' } }, null)).status).toBe(401);
  });

  test('the session lists only its providers with their fields; another provider is refused', async () => {
    const { token, connect_url } = await newSession();
    expect(connect_url).toBe(`${ferry.url}/connect?session_token=${token}`);
    const listing = await asSession(token).get('/connect');
    expect(listing.status).toBe(200);
    expect(listing.body).toMatchObject({ end_user: { id: 'user-42', org_id: 'org-7' }, reconnect_connection_id: null });
    expect(listing.body.providers).toEqual([{
      name: 'keyed', display_name: 'Keyed CRM', auth_type: 'api_key',
      fields: [{ name: 'apiKey', label: 'Workspace API key', secret: true, optional: false, target: 'credentials' }],
    }]);
    const other = await asSession(token).post('/connect/providers/other', { token: 'x' });
    expect(other).toMatchObject({ status: 403, body: { error: { code: 'PROVIDER_NOT_ALLOWED' } } });
    // Bad input on the session routes is a 4xx naming what was wrong, never a 5xx.
    expect(await asSession(token).get('/connect/providers/Not%20A%20Name')).toMatchObject({ status: 400, body: { error: { issues: [{ path: ['params', 'name'] }] } } });
    expect(await asSession(token).post('/connect/providers/keyed', '{"apiKey":')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON' } } });
    expect(await asSession(token).post('/connect/providers/keyed', [1, 2])).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
    expect(await asSession(token).post('/connect/providers/keyed', { apiKey: 42 })).toMatchObject({ status: 400, body: { error: { issues: [{ path: ['body', 'apiKey'] }] } } });
    const callback = await fetch(`${ferry.url}/oauth/callback`);
    expect(callback.status).toBe(400);
    expect(await callback.text()).toContain('without the state');
    expect(await asSession(token).get('/oauth/callback?state=x')).toMatchObject({ status: 400, body: { error: { code: 'STATE_MISMATCH' } } });
  });

  test('without allowed_providers a session offers every provider it can finish: not OAuth ones the app has no client for', async () => {
    const { token } = await newSession({ allowed_providers: undefined });
    const names = (await asSession(token).get('/connect')).body.providers.map((p: any) => p.name);
    expect(names).toEqual(expect.arrayContaining(['keyed', 'other', 'github', 'stripe', 'zendesk']));
    expect(names).not.toContain('hubspot');
    expect(await asSession(token).get('/connect/providers/hubspot')).toMatchObject({ status: 200, body: { name: 'hubspot', auth_type: 'oauth2' } });
    const start = await fetch(`${ferry.url}/connect/providers/hubspot/authorize?session_token=${token}`, { redirect: 'manual' });
    expect(start.status).toBe(409);
    expect(await start.text()).toContain('has not set up its HubSpot OAuth client');
  });

  test('sessions a day past their expiry are dropped', async () => {
    await newSession({ end_user: { id: 'user-old' } });
    await ferry.db.sql`update connect_sessions set expires_at = now() - interval '25 hours' where end_user_id = 'user-old'`;
    await newSession();
    expect(await ferry.db.sql`select 1 from connect_sessions where end_user_id = 'user-old'`).toHaveLength(0);
  });

  test('a valid key is verified, saved with its end user and sync schedules in one go, and announced; the session is then spent', async () => {
    const { token } = await newSession();
    const before = provider.requests.length;
    const saved = await asSession(token).post('/connect/providers/keyed', { apiKey: provider.apiKey });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    expect(saved.body).toMatchObject({ provider: 'keyed', reconnected: false, connection_id: expect.stringMatching(/^conn_/) });
    const connectionId: string = saved.body.connection_id;
    // The declared verification request went out with the candidate key.
    expect(provider.requests.slice(before).map((r) => [r.path, r.status])).toEqual([['/v1/me', 200]]);

    const connection = await ferry.api.get(`/connections/${connectionId}`);
    expect(connection.body).toMatchObject({ provider: 'keyed', auth_status: 'ok' });
    const [row] = await ferry.db.sql`select end_user_id, end_user_org_id, credentials, credentials_enc from connections where connection_id = ${connectionId}`;
    expect(row).toMatchObject({ end_user_id: 'user-42', end_user_org_id: 'org-7', credentials: {} });
    expect(row!.credentials_enc).not.toContain(provider.apiKey);
    // The proxy uses what was stored.
    expect((await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/v1/me' })).body.status).toBe(200);

    const again = await asSession(token).post('/connect/providers/keyed', { apiKey: provider.apiKey });
    expect(again).toMatchObject({ status: 410, body: { error: { code: 'SESSION_USED' } } });
    expect((await asSession(token).get('/connect')).status).toBe(410);

    const delivery = await waitFor('the connection.created delivery', async () => hooks.deliveries.find((d) => d.body.includes(connectionId)));
    const event = await verifyWebhook<any>(secret, delivery.headers as Record<string, string>, delivery.body);
    expect(event).toEqual({ type: 'connection.created', from: 'ferry', connection_id: connectionId, provider: 'keyed', end_user: { id: 'user-42', org_id: 'org-7' } });
    expect(delivery.headers['webhook-id']).toMatch(/^msg_\d+$/);
    await expect(verifyWebhook('whsec_b3RoZXJzZWNyZXRvdGhlcnNlY3JldA==', delivery.headers as Record<string, string>, delivery.body)).rejects.toThrow(/no webhook-signature matches/);
    await expect(verifyWebhook(secret, delivery.headers as Record<string, string>, delivery.body.replace('keyed', 'keyee'))).rejects.toThrow(/no webhook-signature matches/);
    await expect(verifyWebhook(secret, delivery.headers as Record<string, string>, delivery.body, { now: Date.now() + 3_600_000 })).rejects.toThrow(/too far/);
  });

  test('a key the provider refuses saves nothing, keeps the session usable and tells the app', async () => {
    // Its own end user on each attempt: the last step connects it.
    const endUser = idForThisAttempt('user-bad');
    const { token } = await newSession({ end_user: { id: endUser } });
    const refused = await asSession(token).post('/connect/providers/keyed', { apiKey: 'wrong-key' });
    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'INVALID_CREDENTIALS' } } });
    expect(refused.body.error.message).toMatch(/Keyed CRM refused these credentials \(GET \/v1\/me answered HTTP 401\)/);
    expect(await ferry.db.sql`select 1 from connections where end_user_id = ${endUser}`).toHaveLength(0);
    const failed = await waitFor('the auth_failed event', async () => hooks.events('connection.auth_failed').find((e) => e.end_user?.id === endUser));
    expect(failed).toMatchObject({ connection_id: null, provider: 'keyed', error: { code: 'INVALID_CREDENTIALS' } });
    const empty = await asSession(token).post('/connect/providers/keyed', { apiKey: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.issues).toEqual([{ path: ['body', 'apiKey'], message: 'Workspace API key is required' }]);
    expect((await asSession(token).post('/connect/providers/keyed', { apiKey: provider.apiKey })).status).toBe(201);
  });

  test('an expired or unknown session is refused, and saves nothing', async () => {
    const { token } = await newSession({ end_user: { id: 'user-late' } });
    await ferry.db.sql`update connect_sessions set expires_at = now() - interval '1 second' where end_user_id = 'user-late'`;
    expect(await asSession(token).post('/connect/providers/keyed', { apiKey: provider.apiKey })).toMatchObject({ status: 410, body: { error: { code: 'SESSION_EXPIRED' } } });
    expect(await asSession('fcs_not-a-session').get('/connect')).toMatchObject({ status: 401, body: { error: { code: 'SESSION_INVALID' } } });
    const page = await fetch(`${ferry.url}/connect?session_token=${token}`);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('This connect link has expired');
    expect(await ferry.db.sql`select 1 from connections where end_user_id = 'user-late'`).toHaveLength(0);
  });

  test("a session belongs to its environment: another environment's connection cannot be named, and what it makes stays home", async () => {
    // A new environment on each attempt: a CI retry cannot create the first attempt's again.
    const { api: prodApi } = await newEnvironment(ferry, 'prod', { adminKey: ADMIN_KEY });
    expect((await prodApi.put('/providers/keyed', { base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' } })).status).toBe(200);

    const { token: devToken } = await newSession({ end_user: { id: 'user-dev' } });
    const devConnection = (await asSession(devToken).post('/connect/providers/keyed', { apiKey: provider.apiKey })).body.connection_id;
    // prod cannot open a reconnect session on dev's connection.
    expect((await prodApi.post('/connect/sessions', { end_user: { id: 'user-dev' }, connection_id: devConnection })).status).toBe(404);
    // A prod session makes a prod connection, invisible to dev.
    const { token: prodToken } = await newSession({ end_user: { id: 'user-prod' } }, prodApi);
    const made = await asSession(prodToken).post('/connect/providers/keyed', { apiKey: provider.apiKey });
    expect(made.status).toBe(201);
    expect((await prodApi.get(`/connections/${made.body.connection_id}`)).status).toBe(200);
    expect((await ferry.api.get(`/connections/${made.body.connection_id}`)).status).toBe(404);
  });
});
