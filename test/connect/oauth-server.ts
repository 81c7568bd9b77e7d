/**
 * A real OAuth 2 / OpenID Connect authorization server (the `oidc-provider` package) on
 * 127.0.0.1 with its development login and consent screens, and beside it a small API that
 * accepts only access tokens that server issued and has not revoked. Codes, PKCE, refresh-token
 * rotation, revocation and client credentials are the library's own, not imitations.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface OAuthServerOptions {
  redirectUri: string;
  clientId?: string;
  clientSecret?: string;
  /** Seconds an access token lives. */
  accessTokenTtl?: number;
}

export interface OAuthServer {
  url: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** A second client registered for the client-credentials grant only. */
  machine: { clientId: string; clientSecret: string };
  /** Every call to the API, with the status it got. */
  apiCalls: Array<{ path: string; status: number }>;
  /** Token endpoint requests by grant type (`refresh_token:invalid_grant` when refused), in order. */
  tokenRequests: string[];
  items: Array<{ id: string; name: string }>;
  /** Revokes a refresh token at the server's real revocation endpoint (as the end user removing the app would). */
  revoke(refreshToken: string): Promise<void>;
  /** Makes an access token stop working now (as an expiry would). */
  expireAccessToken(accessToken: string): Promise<void>;
  close(): Promise<void>;
}

export async function startOAuthServer(options: OAuthServerOptions): Promise<OAuthServer> {
  const clientId = options.clientId ?? 'ferry-app';
  const clientSecret = options.clientSecret ?? 'ferry-app-secret-0123456789';
  const machine = { clientId: 'ferry-machine', clientSecret: 'ferry-machine-secret-0123456789' };
  const apiCalls: OAuthServer['apiCalls'] = [];
  const tokenRequests: string[] = [];
  const items = [{ id: 'i1', name: 'first' }, { id: 'i2', name: 'second' }, { id: 'i3', name: 'third' }];

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const oidc = new Provider(url, {
    clients: [
      // This client may not ask for `admin` (a scope the server knows): asking is invalid_scope.
      { client_id: clientId, client_secret: clientSecret, redirect_uris: [options.redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid offline_access items:read' },
      { client_id: machine.clientId, client_secret: machine.clientSecret, redirect_uris: [], grant_types: ['client_credentials'], response_types: [] },
    ],
    features: { revocation: { enabled: true }, clientCredentials: { enabled: true }, devInteractions: { enabled: true } },
    scopes: ['openid', 'offline_access', 'items:read', 'admin'],
    pkce: { required: () => true },
    ttl: { AccessToken: options.accessTokenTtl ?? 3600, ClientCredentials: options.accessTokenTtl ?? 3600 },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Rotate on every use, as many providers do: a used refresh token is spent.
    rotateRefreshToken: () => true,
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
  });
  // The development screens warn on every start; tests do not need to hear it.
  oidc.on('server_error', () => {});
  const grantOf = (ctx: { oidc: { params?: Record<string, unknown> } }) => String(ctx.oidc.params?.grant_type ?? '?');
  oidc.on('grant.success', (ctx) => tokenRequests.push(grantOf(ctx)));
  oidc.on('grant.error', (ctx, err) => tokenRequests.push(`${grantOf(ctx)}:${(err as { error?: string }).error ?? 'error'}`));

  const callback = oidc.callback();
  async function api(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', url).pathname;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const found = token ? (await oidc.AccessToken.find(token)) ?? (await oidc.ClientCredentials.find(token)) : undefined;
    const status = !found || found.isExpired ? 401 : path === '/api/me' || path === '/api/items' ? 200 : 404;
    apiCalls.push({ path, status });
    res.writeHead(status, { 'content-type': 'application/json' });
    if (status !== 200) return res.end(JSON.stringify({ error: status === 401 ? 'invalid_token' : 'not_found' }));
    res.end(JSON.stringify(path === '/api/me' ? { sub: (found as { accountId?: string }).accountId ?? (found as { clientId: string }).clientId } : { items }));
  }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/api/')) {
      api(req, res).catch(() => res.writeHead(500).end());
      return;
    }
    callback(req, res);
  });

  return {
    url, issuer: url, clientId, clientSecret, machine, apiCalls, tokenRequests, items,
    async revoke(refreshToken) {
      const response = await fetch(`${url}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
      });
      if (response.status !== 200) throw new Error(`revocation answered ${response.status}`);
    },
    async expireAccessToken(accessToken) {
      await (await oidc.AccessToken.find(accessToken))?.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
