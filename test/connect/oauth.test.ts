/**
 * OAuth 2 connect end to end: a real authorization server (oidc-provider) on 127.0.0.1, the
 * hosted connect page driven in Chromium, a whole Ferry host. Consent → callback → code
 * exchange with PKCE → tokens stored encrypted → the first sync runs → a refused access token
 * is refreshed → a revoked refresh token marks the connection and tells the app → a reconnect
 * session repairs it with its records and sync state. Replayed or foreign state, denied
 * consent and an invalid client end on a page and an event, never a connection.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyWebhook } from '../../client/index.ts';
import { createConnections, type OAuth2Credentials } from '../../host/connections/connections.ts';
import { createCipher, generateEncryptionKey, parseKeyring } from '../../host/crypto/cipher.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { deploySources, readAll, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { createConnectSession } from './connect-session.ts';
import { startOAuthServer, type OAuthServer } from './oauth-server.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const ENCRYPTION_KEY = generateEncryptionKey();

const ITEMS_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'items from the test identity provider',
  frequency: 'every 1 hour',
  syncType: 'full',
  models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get<{ items: Array<{ id: string; name: string }> }>({ endpoint: '/items', retries: 0 });
    await nango.batchSave(data.items, 'Item');
  },
});`;

/** The catalog entry for the test server; `tokenUrl` replaces its token endpoint. */
const idpProvider = (tokenUrl = `${idp.url}/token`) => ({
  display_name: 'Test IdP',
  base_url: `${idp.url}/api`,
  auth: {
    type: 'oauth2', token_url: tokenUrl, authorization_url: `${idp.url}/auth`, client_auth: 'basic', refresh_margin_s: 0,
    scopes: ['openid', 'offline_access', 'items:read'], authorization_params: { prompt: 'consent' },
    token_response_config: { granted_scope: 'scope' },
  },
  connect: { verification: { endpoint: '/me' } },
});

let ferry: TestFerry;
let idp: OAuthServer;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let browser: Browser;
let secret: string;
const connections = () => createConnections(ferry.db.sql, createCipher(parseKeyring(ENCRYPTION_KEY)));

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  ferry = await startTestFerry({ FERRY_ENCRYPTION_KEY: ENCRYPTION_KEY, FERRY_WEBHOOK_RETRY_DELAY_S: '1' });
  idp = await startOAuthServer({ redirectUri: `${ferry.url}/oauth/callback` });
  browser = await launchBrowser();
  expect((await ferry.api.put('/providers/idp', idpProvider())).status).toBe(200);
  expect((await ferry.api.put('/providers/idp/oauth-client', { client_id: idp.clientId, client_secret: idp.clientSecret })).body)
    .toEqual({ provider: 'idp', client_id: idp.clientId, redirect_uri: `${ferry.url}/oauth/callback` });
  await deploySources(ferry, { 'idp/syncs/items.ts': ITEMS_SYNC });
  secret = (await ferry.api.put('/environment/settings', { webhook_url: hooks.url })).body.webhook_secret;
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await ferry?.close();
  await idp?.close();
  await hooks?.close();
});

const session = (body: Record<string, unknown> = {}) => createConnectSession(ferry.api, { end_user: { id: 'alice-1' }, allowed_providers: ['idp'] }, body);

/** Opens the hosted page, picks the provider, signs in at the IdP when asked; returns the page on the IdP's consent screen. */
async function toConsent(context: BrowserContext, connectUrl: string, login = 'alice'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(connectUrl);
  await page.click('a[data-provider="idp"]');
  await page.waitForSelector('input[name="prompt"]', { state: 'attached' });
  if (await page.locator('input[name="prompt"][value="login"]').count()) {
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any password');
    await page.click('button[type="submit"]');
  }
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
  return page;
}

/** Consents; returns the callback URL the IdP sent the browser to and Ferry's answer to it. */
async function consent(page: Page): Promise<{ url: string; status: number; html: string }> {
  const answered = page.waitForResponse((r) => r.url().startsWith(`${ferry.url}/oauth/callback`));
  await page.click('button[type="submit"]');
  const response = await answered;
  return { url: response.url(), status: response.status(), html: await response.text() };
}

const outcomeText = (page: Page) => page.locator('[data-outcome]').textContent();

describe('OAuth2 authorization code through the hosted page', () => {
  let connectionId = '';
  let callbackUrl = '';

  test('consent, callback, code exchange with PKCE: tokens stored encrypted, config captured, the app told, the first sync runs', async () => {
    const { connect_url } = await session({ return_url: `${hooks.url.replace('/hooks', '')}/done` });
    const context = await browser.newContext();
    try {
      const page = await toConsent(context, connect_url);
      expect(page.url()).toContain(`${idp.url}/interaction/`);
      await expect(page.locator('body')).toBeDefined();
      const answer = await consent(page);
      callbackUrl = answer.url;
      expect(answer.status).toBe(200);
      expect(answer.html).toContain('<h1>Test IdP connected</h1>');
      expect(answer.html).toContain('data-outcome="success"');
      // The authorization request carried S256 PKCE and state; the callback carried the state back.
      const callback = new URL(callbackUrl);
      expect(callback.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Redirect flow: the browser then goes to the app's return URL with the outcome.
      await page.waitForURL((u) => u.pathname === '/done');
      await screenshot(page, 'connect-oauth-returned');
      const back = new URL(page.url());
      expect(back.searchParams.get('status')).toBe('success');
      connectionId = back.searchParams.get('connection_id')!;
      expect(connectionId).toMatch(/^conn_/);
    } finally {
      await context.close();
    }
    expect(idp.tokenRequests).toEqual(['authorization_code']);

    const row = (await ferry.api.get(`/connections/${connectionId}`)).body;
    expect(row).toMatchObject({ provider: 'idp', auth_status: 'ok', connection_config: { granted_scope: expect.stringContaining('items:read') } });
    const [raw] = await ferry.db.sql`select id, credentials, credentials_enc, end_user_id from connections where connection_id = ${connectionId}`;
    const stored = await connections().credentials(raw!.id) as OAuth2Credentials;
    expect(stored).toMatchObject({ type: 'oauth2', accessToken: expect.any(String), refreshToken: expect.any(String), clientId: idp.clientId, expiresAt: expect.any(String) });
    expect(raw!.credentials).toEqual({});
    expect(raw!.credentials_enc).not.toContain(stored.accessToken);
    expect(raw!.end_user_id).toBe('alice-1');

    const delivery = await waitFor('connection.created', async () => hooks.deliveries.find((d) => d.body.includes('connection.created') && d.body.includes(connectionId)));
    expect(await verifyWebhook(secret, delivery.headers as Record<string, string>, delivery.body)).toMatchObject({ type: 'connection.created', connection_id: connectionId, provider: 'idp', end_user: { id: 'alice-1', org_id: null } });

    const run = await waitForRun(ferry.api, connectionId, 'items');
    expect(run.status).toBe('succeeded');
    expect((await readAll(ferry.api, connectionId, 'Item')).records.map((r) => r.id).sort()).toEqual(['i1', 'i2', 'i3']);
  });

  test('a replayed callback, a foreign state and a callback from another browser are refused and connect nothing', async () => {
    const before = (await ferry.api.get('/connections')).body.connections.length;
    const state = new URL(callbackUrl).searchParams.get('state')!;
    // The same callback again, even with the state cookie the first browser had: the state is spent.
    const replay = await fetch(callbackUrl, { headers: { cookie: `ferry_connect_state=${state}` } });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('not valid or was already used');
    // A state Ferry never issued.
    const foreign = `${ferry.url}/oauth/callback?code=abc&state=${'x'.repeat(43)}`;
    const forged = await fetch(foreign, { headers: { cookie: `ferry_connect_state=${'x'.repeat(43)}` } });
    expect(forged.status).toBe(400);
    // A real, unspent state sent by a browser that did not start the flow (login CSRF).
    const { token } = await session();
    const starter = await browser.newContext();
    try {
      const started = await fetch(`${ferry.url}/connect/providers/idp/authorize?session_token=${token}`, { redirect: 'manual' });
      expect(started.status).toBe(302);
      const issuedState = new URL(started.headers.get('location')!).searchParams.get('state')!;
      const elsewhere = await starter.newPage(); // the cookie went to fetch, not to this browser
      const response = await elsewhere.goto(`${ferry.url}/oauth/callback?code=stolen&state=${issuedState}`);
      expect(response!.status()).toBe(400);
      expect(await outcomeText(elsewhere)).toContain('not started in this browser');
    } finally {
      await starter.close();
    }
    expect((await ferry.api.get('/connections')).body.connections.length).toBe(before);
  });

  test('an access token the provider refuses is refreshed with the stored refresh token', async () => {
    const [raw] = await ferry.db.sql`select id from connections where connection_id = ${connectionId}`;
    const before = await connections().credentials(raw!.id) as OAuth2Credentials;
    await idp.expireAccessToken(before.accessToken);
    const response = await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/items' });
    expect(response.body.status).toBe(200);
    expect(idp.tokenRequests.at(-1)).toBe('refresh_token');
    const after = await connections().credentials(raw!.id) as OAuth2Credentials;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken); // rotated by the server
  });

  test('a revoked refresh token marks the connection and sends connection.auth_failed; a reconnect session repairs it keeping records and sync state', async () => {
    const [raw] = await ferry.db.sql`select id from connections where connection_id = ${connectionId}`;
    const current = await connections().credentials(raw!.id) as OAuth2Credentials;
    await idp.revoke(current.refreshToken!);
    await idp.expireAccessToken(current.accessToken);
    const refused = await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/items' });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'CONNECTION_REAUTH_REQUIRED' } } });
    expect(idp.tokenRequests.at(-1)).toBe('refresh_token:invalid_grant');
    expect((await ferry.api.get(`/connections/${connectionId}`)).body.auth_status).toBe('reauth_required');
    const failed = await waitFor('connection.auth_failed', async () => hooks.events('connection.auth_failed').find((e) => e.connection_id === connectionId));
    expect(failed).toMatchObject({ provider: 'idp', end_user: { id: 'alice-1' }, error: { code: 'CONNECTION_REAUTH_REQUIRED' } });

    const syncStateBefore = await ferry.db.sql`select sync_name, last_sync_date, checkpoint, next_run_at from sync_state where connection_id = ${raw!.id}`;
    const { connect_url } = await session({ connection_id: connectionId });
    const listing = await fetch(connect_url, { headers: { accept: 'application/json' } });
    expect((await listing.json() as any).reconnect_connection_id).toBe(connectionId);
    const context = await browser.newContext();
    try {
      const page = await toConsent(context, connect_url);
      expect((await consent(page)).html).toContain('Your account is reconnected.');
    } finally {
      await context.close();
    }
    const repaired = (await ferry.api.get(`/connections/${connectionId}`)).body;
    expect(repaired).toMatchObject({ auth_status: 'ok', auth_error: null });
    expect((await ferry.api.get('/connections')).body.connections.filter((c: any) => c.provider === 'idp')).toHaveLength(1);
    expect((await readAll(ferry.api, connectionId, 'Item')).records).toHaveLength(3);
    expect(await ferry.db.sql`select sync_name, last_sync_date, checkpoint, next_run_at from sync_state where connection_id = ${raw!.id}`).toEqual(syncStateBefore);
    expect((await ferry.api.post(`/connections/${connectionId}/proxy`, { method: 'GET', endpoint: '/items' })).body.status).toBe(200);
    await waitFor('connection.reconnected', async () => hooks.events('connection.reconnected').find((e) => e.connection_id === connectionId));
  });
});

describe('provider refusals end on a page and an event, never a connection', () => {
  const idpConnections = async () => (await ferry.api.get('/connections')).body.connections.filter((c: any) => c.provider === 'idp').length;

  test('denied consent', async () => {
    const before = await idpConnections();
    const { connect_url } = await session({ end_user: { id: 'bob-2' } });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(connect_url);
      await page.click('a[data-provider="idp"]');
      await page.waitForURL((u) => u.origin === idp.url, { waitUntil: 'domcontentloaded' });
      await page.click('text=[ Cancel ]');
      await page.waitForSelector('[data-outcome]');
      await screenshot(page, 'connect-oauth-denied');
      expect(await page.locator('h1').textContent()).toBe('Access declined');
      expect(await outcomeText(page)).toContain('Access to Test IdP was declined');
    } finally {
      await context.close();
    }
    expect(await idpConnections()).toBe(before);
    const event = await waitFor('auth_failed for bob', async () => hooks.events('connection.auth_failed').find((e) => e.end_user?.id === 'bob-2'));
    expect(event).toMatchObject({ connection_id: null, provider: 'idp', error: { code: 'access_denied' } });
  });

  test('scopes the provider will not grant', async () => {
    const before = await idpConnections();
    await ferry.api.put('/providers/idp/oauth-client', { client_id: idp.clientId, client_secret: idp.clientSecret, scopes: ['openid', 'admin'] });
    try {
      const { connect_url } = await session({ end_user: { id: 'frank-6' } });
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(connect_url);
        await page.click('a[data-provider="idp"]');
        await page.waitForSelector('[data-outcome]');
        expect(await page.locator('h1').textContent()).toBe('Permissions refused');
        expect(await outcomeText(page)).toContain('Test IdP refused the permissions this app asks for');
      } finally {
        await context.close();
      }
    } finally {
      await ferry.api.put('/providers/idp/oauth-client', { client_id: idp.clientId, client_secret: idp.clientSecret });
    }
    expect(await idpConnections()).toBe(before);
    await waitFor('auth_failed for frank', async () => hooks.events('connection.auth_failed').find((e) => e.end_user?.id === 'frank-6' && e.error.code === 'invalid_scope'));
  });

  test('an invalid client: the code exchange is refused', async () => {
    const before = await idpConnections();
    await ferry.api.put('/providers/idp/oauth-client', { client_id: idp.clientId, client_secret: 'not-the-secret' });
    try {
      const { connect_url } = await session({ end_user: { id: 'carol-3' } });
      const context = await browser.newContext();
      try {
        const page = await toConsent(context, connect_url, 'carol');
        const answer = await consent(page);
        expect(answer.status).toBe(502);
        await page.waitForSelector('[data-outcome]');
        await screenshot(page, 'connect-oauth-invalid-client');
        expect(await outcomeText(page)).toContain('Test IdP did not issue a token');
        expect(await page.locator('code').textContent()).toBe('invalid_client');
      } finally {
        await context.close();
      }
    } finally {
      await ferry.api.put('/providers/idp/oauth-client', { client_id: idp.clientId, client_secret: idp.clientSecret });
    }
    expect(await idpConnections()).toBe(before);
    await waitFor('auth_failed for carol', async () => hooks.events('connection.auth_failed').find((e) => e.end_user?.id === 'carol-3' && e.error.code === 'invalid_client'));
  });
});

describe('the callback refuses what cannot finish, and connects nothing', () => {
  const idpConnections = async () => (await ferry.api.get('/connections')).body.connections.filter((c: any) => c.provider === 'idp').length;

  test('a session that expired while the end user was at the provider', async () => {
    const before = await idpConnections();
    const { connect_url } = await session({ end_user: { id: 'gina-7' } });
    const context = await browser.newContext();
    try {
      const page = await toConsent(context, connect_url, 'gina');
      await ferry.db.sql`update connect_sessions set expires_at = now() - interval '1 second' where end_user_id = 'gina-7'`;
      const answer = await consent(page);
      expect(answer.status).toBe(410);
      expect(answer.html).toContain('This connect link has expired. Ask the app for a new one.');
    } finally {
      await context.close();
    }
    expect(await idpConnections()).toBe(before);
    expect(await ferry.db.sql`select 1 from connections where end_user_id = 'gina-7'`).toHaveLength(0);
  });

  test('an unreachable token endpoint: a page and an event naming it', async () => {
    const before = await idpConnections();
    // A port that was just free and is closed now: the code exchange is refused at once.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    expect((await ferry.api.put('/providers/idp', idpProvider(`http://127.0.0.1:${port}/token`))).status).toBe(200);
    try {
      const { connect_url } = await session({ end_user: { id: 'hal-8' } });
      const context = await browser.newContext();
      try {
        const page = await toConsent(context, connect_url, 'hal');
        const answer = await consent(page);
        expect(answer.status).toBe(502);
        await page.waitForSelector('[data-outcome]');
        expect(await outcomeText(page)).toContain('Test IdP did not issue a token');
        expect(await page.locator('code').textContent()).toBe('TOKEN_ENDPOINT_UNREACHABLE');
      } finally {
        await context.close();
      }
    } finally {
      expect((await ferry.api.put('/providers/idp', idpProvider())).status).toBe(200);
    }
    expect(await idpConnections()).toBe(before);
    await waitFor('auth_failed for hal', async () => hooks.events('connection.auth_failed').find((e) => e.end_user?.id === 'hal-8' && e.error.code === 'TOKEN_ENDPOINT_UNREACHABLE'));
  });
});

describe('OAuth2 client credentials', () => {
  test("the end user's machine client gets a token from the real server; wrong secrets are refused", async () => {
    expect((await ferry.api.put('/providers/idp-machine', {
      base_url: `${idp.url}/api`, auth: { type: 'oauth2', grant: 'client_credentials', token_url: `${idp.url}/token`, client_auth: 'basic' },
      connect: { verification: { endpoint: '/me' } },
    })).status).toBe(200);
    const bad = await session({ allowed_providers: ['idp-machine'], end_user: { id: 'dave-4' } });
    const headless = (token: string, body: unknown) => fetch(`${ferry.url}/connect/providers/idp-machine`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const refused = await headless(bad.token, { clientId: idp.machine.clientId, clientSecret: 'wrong' });
    expect(refused.status).toBe(422);
    expect((await refused.json() as any).error.code).toBe('invalid_client');
    const made = await headless(bad.token, { clientId: idp.machine.clientId, clientSecret: idp.machine.clientSecret });
    expect(made.status).toBe(201);
    const { connection_id } = await made.json() as { connection_id: string };
    expect((await ferry.api.post(`/connections/${connection_id}/proxy`, { method: 'GET', endpoint: '/me' })).body).toMatchObject({ status: 200, body: JSON.stringify({ sub: idp.machine.clientId }) });
    // When the token is refused, a new one is issued with the same client credentials.
    const [raw] = await ferry.db.sql`select id from connections where connection_id = ${connection_id}`;
    const first = await connections().credentials(raw!.id) as OAuth2Credentials;
    expect(first.refreshToken).toBeUndefined();
    const grantsBefore = idp.tokenRequests.filter((g) => g === 'client_credentials').length;
    // Expire it in Ferry's view: past expiresAt makes the proxy ask for a new one first.
    await connections().saveCredentials(raw!.id, { ...first, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect((await ferry.api.post(`/connections/${connection_id}/proxy`, { method: 'GET', endpoint: '/me' })).body.status).toBe(200);
    expect(idp.tokenRequests.filter((g) => g === 'client_credentials').length).toBe(grantsBefore + 1);
  });
});
