/**
 * OAuth2 against a provider whose access tokens expire and whose refresh tokens rotate (each
 * works once): refresh ahead of expiry, once after a 401, single-flight across two independent
 * database pools (as two worker processes), and a revoked refresh token marking the connection.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import postgres from '@ferry/postgres';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connect, get, proxyParts } from '../proxy/harness.ts';
import { startTestProvider, type TestProvider } from '../proxy/provider-server.ts';

let db: TestDatabase;
let provider: TestProvider;
const sleep = async () => {};

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startTestProvider();
});
afterAll(async () => {
  await provider?.close();
  await db?.drop();
});
beforeEach(async () => {
  provider.requests.length = 0;
  provider.oauth.refreshes.length = 0;
  provider.oauth.delayMs = 0;
  provider.oauth.hold = null;
  await db.sql`delete from connections`;
  await db.sql`delete from providers`;
});

const oauthProvider = () => ({ name: 'oauthy', base_url: provider.url, auth: { type: 'oauth2' as const, token_url: `${provider.url}/oauth/token`, refresh_margin_s: 60 } });
const credentialsFrom = (t: { accessToken: string; refreshToken: string; expiresAt: string }) => ({
  type: 'oauth2' as const, ...t, clientId: provider.oauth.clientId, clientSecret: provider.oauth.clientSecret,
});

describe('oauth2 refresh', () => {
  test('a token inside the refresh margin is refreshed before the call; the new pair is stored encrypted', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const tokens = provider.oauth.authorise(30); // expires in 30 s: inside the 60 s margin
    const { target, connection } = await connect(db.sql, parts, oauthProvider(), credentialsFrom(tokens));
    const response = await parts.proxy.request(target, get('/v1/me'));
    expect(response.status).toBe(200);
    expect(provider.oauth.refreshes).toEqual([{ refreshToken: tokens.refreshToken, ok: true }]);
    const stored = await parts.connections.credentials(connection.id);
    expect(stored).toMatchObject({ type: 'oauth2', refreshToken: expect.not.stringMatching(tokens.refreshToken) });
    expect(provider.requests.at(-1)!.authorization).toBe(`Bearer ${(stored as { accessToken: string }).accessToken}`);
    const [raw] = await db.sql`select credentials, credentials_enc from connections where id = ${connection.id}`;
    expect(JSON.stringify(raw)).not.toContain((stored as { accessToken: string }).accessToken);
  });

  test('a 401 refreshes once and retries; a fresh token is not refreshed', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const tokens = provider.oauth.authorise(3600);
    const { target } = await connect(db.sql, parts, oauthProvider(), credentialsFrom({ ...tokens, accessToken: 'revoked-access-token' }));
    const response = await parts.proxy.request(target, get('/v1/me'));
    expect(response.status).toBe(200);
    expect(provider.requests.map((r) => r.status)).toEqual([401, 200]);
    expect(provider.oauth.refreshes).toHaveLength(1);
    await parts.proxy.request(target, get('/v1/me'));
    expect(provider.oauth.refreshes).toHaveLength(1);
  });

  test('two processes needing a refresh at once refresh once, and neither uses a stale refresh token', async () => {
    const tokens = provider.oauth.authorise(10);
    provider.oauth.delayMs = 300; // a slow token endpoint widens the race
    const setup = proxyParts(db.sql, { sleep });
    const { target } = await connect(db.sql, setup, oauthProvider(), credentialsFrom(tokens));
    const pools = [postgres(db.url, { max: 3, onnotice: () => {} }), postgres(db.url, { max: 3, onnotice: () => {} })];
    try {
      const processes = pools.map((sql) => proxyParts(sql, { sleep }));
      const results = await Promise.all(processes.flatMap((p) => [p.proxy.request(target, get('/v1/me')), p.proxy.request(target, get('/v1/me'))]));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(provider.oauth.refreshes).toEqual([{ refreshToken: tokens.refreshToken, ok: true }]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test('a refresh holds no database connection while the token endpoint answers: a one-connection pool (as embedded mode) keeps serving', async () => {
    const tokens = provider.oauth.authorise(10);
    const { target } = await connect(db.sql, proxyParts(db.sql, { sleep }), oauthProvider(), credentialsFrom(tokens));
    const single = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const parts = proxyParts(single, { sleep });
      // The token endpoint holds its answer until released: the refresh is under way for as long as this takes.
      let release!: () => void;
      provider.oauth.hold = new Promise((resolve) => (release = resolve));
      const received = provider.oauth.received;
      const call = parts.proxy.request(target, get('/v1/me'));
      await expect.poll(() => provider.oauth.received, { timeout: 30_000 }).toBeGreaterThan(received);
      await single`select 1`;
      // Answered while the token endpoint was still working on the refresh.
      expect(provider.oauth.refreshes).toHaveLength(0);
      release();
      expect((await call).status).toBe(200);
      expect(provider.oauth.refreshes).toEqual([{ refreshToken: tokens.refreshToken, ok: true }]);
      const [claim] = await db.sql`select refresh_claim, refresh_claimed_until from connections where connection_id = 'conn-1'`;
      expect(claim).toEqual({ refresh_claim: null, refresh_claimed_until: null });
    } finally {
      await single.end();
    }
  });

  test('a claim left by a process that died mid-refresh expires, and the next caller refreshes', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const tokens = provider.oauth.authorise(10);
    const { target, connection } = await connect(db.sql, parts, oauthProvider(), credentialsFrom(tokens));
    await db.sql`update connections set refresh_claim = 'dead-process', refresh_claimed_until = now() + interval '300 milliseconds' where id = ${connection.id}`;
    const response = await parts.proxy.request(target, get('/v1/me'));
    expect(response.status).toBe(200);
    expect(provider.oauth.refreshes).toEqual([{ refreshToken: tokens.refreshToken, ok: true }]);
  });

  test('a revoked refresh token marks the connection; later calls fail fast without reaching the provider', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const tokens = provider.oauth.authorise(10);
    const { target, connection } = await connect(db.sql, parts, oauthProvider(), credentialsFrom(tokens));
    provider.oauth.revokeAll();
    await expect(parts.proxy.request(target, get('/v1/me'))).rejects.toMatchObject({ code: 'CONNECTION_REAUTH_REQUIRED' });
    expect(await parts.connections.authStatus(connection.id)).toMatchObject({ auth_status: 'reauth_required', auth_error: expect.stringContaining('invalid_grant') });
    const refreshesBefore = provider.oauth.refreshes.length;
    await expect(parts.proxy.request(target, get('/v1/me'))).rejects.toMatchObject({ code: 'CONNECTION_REAUTH_REQUIRED' });
    expect(provider.oauth.refreshes).toHaveLength(refreshesBefore);
    expect(provider.requests).toHaveLength(0);

    // New credentials (the user re-authorised) clear the flag.
    await parts.connections.update(connection.environment_id, connection.connection_id, { credentials: credentialsFrom(provider.oauth.authorise(3600)) });
    expect((await parts.proxy.request(target, get('/v1/me'))).status).toBe(200);
  });
});
