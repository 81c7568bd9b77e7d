/**
 * Connect, from the app's backend (secret key): sessions for its end users, and its OAuth
 * clients at providers. The routes a session token opens are in host/connect/routes.ts.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ProviderSchema, type Providers } from '../../connections/providers.ts';
import { NewConnectSessionSchema, type ConnectSessions } from '../../connect/sessions.ts';
import { OAuthClientInputSchema, type OAuthClients } from '../../connect/oauth-clients.ts';
import type { Sql } from '../../db/connect.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface ConnectApiRouteDeps {
  sql: Sql;
  providers: Providers;
  connectSessions: ConnectSessions;
  oauthClients: OAuthClients;
  publicUrl: () => string;
}

const ProviderNameParam = z.object({ name: ProviderSchema.shape.name });
const SessionView = z.object({
  token: z.string().describe('Give it to the end user\'s browser; it is shown only here'),
  expires_at: z.string(),
  connect_url: z.string().describe('The hosted connect page for this session (open as a popup or redirect)'),
});

export const connectApiRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/connect/sessions', tag: 'connect', body: NewConnectSessionSchema,
    summary: 'A short-lived, single-use connect session for one end user (optionally to reconnect an existing connection)',
    responses: { 201: { description: 'The session token and the hosted page URL', schema: SessionView } },
  },
  {
    method: 'put', path: '/providers/:name/oauth-client', tag: 'connect', params: ProviderNameParam, body: OAuthClientInputSchema,
    summary: "The app's OAuth client at this provider, used by connect (the secret is stored encrypted and never returned)",
    responses: { 200: { description: 'Saved', schema: z.object({ provider: z.string(), client_id: z.string(), redirect_uri: z.string() }) } },
  },
  { method: 'delete', path: '/providers/:name/oauth-client', tag: 'connect', params: ProviderNameParam, summary: "Forget the app's OAuth client at this provider", responses: { 204: { description: 'Removed' } } },
]);

export function connectApiRoutes(deps: ConnectApiRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.post('/connect/sessions', async (c) => {
    const env = c.get('environment');
    const input = parseInput(NewConnectSessionSchema, await jsonBody(c), 'body');
    for (const name of input.allowed_providers ?? []) {
      if (!(await deps.providers.get(env.id, name))) throw new ApiError(400, 'UNKNOWN_PROVIDER', `provider "${name}" is not configured`, [{ path: ['body', 'allowed_providers'], message: `unknown provider ${name}` }]);
    }
    if (input.connection_id) {
      const [row] = await deps.sql`select 1 from connections where environment_id = ${env.id} and connection_id = ${input.connection_id}`;
      if (!row) throw notFound(`connection "${input.connection_id}"`);
    }
    const { token, session } = await deps.connectSessions.create(env.id, input);
    return c.json({ token, expires_at: session.expires_at, connect_url: `${deps.publicUrl()}/connect?session_token=${encodeURIComponent(token)}` }, 201);
  });

  app.put('/providers/:name/oauth-client', async (c) => {
    const env = c.get('environment');
    const { name } = parseInput(ProviderNameParam, c.req.param(), 'params');
    const input = parseInput(OAuthClientInputSchema, await jsonBody(c), 'body');
    const provider = await deps.providers.get(env.id, name);
    if (!provider) throw notFound(`provider "${name}"`);
    if (provider.auth.type !== 'oauth2') throw new ApiError(400, 'NOT_OAUTH', `provider "${name}" does not use OAuth2 (auth type ${provider.auth.type})`);
    await deps.oauthClients.put(env.id, name, input);
    return c.json({ provider: name, client_id: input.client_id, redirect_uri: `${deps.publicUrl()}/oauth/callback` });
  });

  app.delete('/providers/:name/oauth-client', async (c) => {
    const { name } = parseInput(ProviderNameParam, c.req.param(), 'params');
    if (!(await deps.oauthClients.remove(c.get('environment').id, name))) throw notFound(`OAuth client of provider "${name}"`);
    return c.body(null, 204);
  });

  return app;
}
