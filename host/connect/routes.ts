/**
 * The connect routes an end user's browser (hosted page) or the app's own UI (headless, JSON)
 * calls with a session token instead of a secret key, and the OAuth2 callback. The session
 * decides environment, end user and allowed providers; nothing in the request can widen them.
 * JSON in and out when the request sends or accepts JSON, HTML pages otherwise.
 */
import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { Credentials } from '../connections/connections.ts';
import type { Provider, Providers } from '../connections/providers.ts';
import type { Cipher } from '../crypto/cipher.ts';
import type { Sql } from '../db/connect.ts';
import { errorBody, formBody, renderError, type ErrorIssue } from '../api/errors.ts';
import type { Logger } from '../logger.ts';
import { defineRoutes } from '../api/openapi/index.ts';
import { ConnectError, endUserOf, type ConnectFlow } from './connect-flow.ts';
import { configFromForm, formFields, formSchema, fromForm } from './fields.ts';
import { authorizationUrl, clientCredentialsToken, exchangeCode, newState, OAuthFlowError, pkcePair } from './oauth.ts';
import type { OAuthClients } from './oauth-clients.ts';
import { chooserPage, formPage, problemPage, resultPage, type Html, type Outcome } from './pages.ts';
import { hashToken, type ConnectSession, type ConnectSessions } from './sessions.ts';

export interface ConnectRouteDeps {
  sql: Sql;
  providers: Providers;
  connectSessions: ConnectSessions;
  connectFlow: ConnectFlow;
  oauthClients: OAuthClients;
  cipher: Cipher;
  logger: Logger;
  /** The URL browsers reach Ferry at (redirect_uri is built from it). */
  publicUrl: () => string;
}

export const OAUTH_CALLBACK_PATH = '/oauth/callback';
const STATE_COOKIE = 'ferry_connect_state';
const ProviderParam = z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a provider name') });

/** The headless API: a JSON body, an Accept of JSON, or the session token as a bearer header (browsers never send one). */
function providerName(c: Context): string {
  const parsed = ProviderParam.safeParse(c.req.param());
  if (!parsed.success) throw new ConnectError(400, 'INVALID_REQUEST', 'invalid params: name must be a provider name (lowercase letters, digits, - and _)', [{ path: ['params', 'name'], message: 'a provider name' }]);
  return parsed.data.name;
}

const wantsJson = (c: Context) => (c.req.header('content-type') ?? '').includes('application/json') || (c.req.header('accept') ?? '').startsWith('application/json')
  || /^Bearer\s+fcs_/i.test(c.req.header('authorization') ?? '');

function sessionToken(c: Context, form?: Record<string, unknown>): string | null {
  const bearer = /^Bearer\s+(fcs_\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
  const value = bearer ?? c.req.query('session_token') ?? form?.session_token;
  return typeof value === 'string' && value.length > 0 && value.length < 200 ? value : null;
}

const PROBLEM_TEXT: Record<string, [401 | 410, string, string]> = {
  unknown: [401, 'SESSION_INVALID', 'This connect link is not valid. Ask the app for a new one.'],
  expired: [410, 'SESSION_EXPIRED', 'This connect link has expired. Ask the app for a new one.'],
  used: [410, 'SESSION_USED', 'This connect link was already used. Ask the app for a new one.'],
};

/** The form was filled in wrong: JSON callers get the issues, a browser gets the form again. */
class FormError extends ConnectError {
  readonly page: Html;
  constructor(page: Html, message: string, issues: ErrorIssue[]) {
    super(400, 'INVALID_REQUEST', message, issues);
    this.page = page;
  }
}

export function connectRoutes(deps: ConnectRouteDeps) {
  const app = new Hono();

  function page(c: Context, body: Html, status = 200) {
    c.header('cache-control', 'no-store');
    c.header('referrer-policy', 'no-referrer');
    c.header('x-content-type-options', 'nosniff');
    c.header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${c.get('nonce' as never)}'; frame-ancestors 'none'; base-uri 'none'`);
    return c.html(body, status as 200);
  }

  /** A refusal, as JSON (the API's error shape) or a page (the form again, when it was the form's fault). */
  function refuse(c: Context, err: ConnectError) {
    if (wantsJson(c)) return c.json(errorBody(err.code, err.message, err.issues), err.status);
    return page(c, err instanceof FormError ? err.page : problemPage('Cannot connect', err.message), err.status);
  }

  async function liveSession(c: Context, form?: Record<string, unknown>): Promise<ConnectSession> {
    const token = sessionToken(c, form);
    if (!token) throw new ConnectError(401, 'SESSION_INVALID', 'missing session token (Authorization: Bearer fcs_… or ?session_token=)');
    const resolved = await deps.connectSessions.resolve(token);
    if ('problem' in resolved) {
      const [status, code, text] = PROBLEM_TEXT[resolved.problem]!;
      throw new ConnectError(status, code, text);
    }
    return resolved.session;
  }

  const nonceOf = (c: Context) => c.get('nonce' as never) as string;

  /** The end of a browser flow; a caller asking for JSON (never a browser's navigation) gets the API's error shape instead. */
  function outcomePage(c: Context, session: ConnectSession | null, outcome: Outcome, title: string, message: string, status = 200) {
    if (outcome.error && wantsJson(c)) return c.json(errorBody(outcome.error.code, message), status as 400);
    return page(c, resultPage({ outcome, title, message, returnUrl: session?.return_url ?? null, nonce: nonceOf(c) }), status);
  }

  const isAuthorizationCode = (p: Provider) => p.auth.type === 'oauth2' && p.auth.grant === 'authorization_code';

  /** What the end user may pick: the session's providers, less authorization-code ones the app has no OAuth client for. */
  async function availableProviders(session: ConnectSession): Promise<Provider[]> {
    const [all, withClient] = await Promise.all([deps.providers.list(session.environment_id), deps.oauthClients.providers(session.environment_id)]);
    const usable = all.filter((p) => !isAuthorizationCode(p) || withClient.has(p.name));
    let allowed = session.allowed_providers ? usable.filter((p) => session.allowed_providers!.includes(p.name)) : usable;
    if (session.reconnect_connection_id) {
      const [row] = await deps.sql<{ provider: string }[]>`select provider from connections where environment_id = ${session.environment_id} and connection_id = ${session.reconnect_connection_id}`;
      allowed = allowed.filter((p) => p.name === row?.provider);
    }
    return allowed;
  }

  const describe = (p: Provider) => ({
    name: p.name, display_name: p.display_name ?? p.name, auth_type: p.auth.type,
    ...(p.auth.type === 'oauth2' && { grant: p.auth.grant }),
    fields: formFields(p).map(({ name, label, secret, optional, example, target }) => ({ name, label, secret, optional, target, ...(example && { example }) })),
  });

  app.use('/connect/*', cors({ origin: '*', allowHeaders: ['authorization', 'content-type'], allowMethods: ['GET', 'POST'] }));
  app.use('*', async (c, next) => {
    c.set('nonce' as never, randomBytes(16).toString('base64') as never);
    await next();
  });
  app.onError(async (err, c) => {
    if (err instanceof ConnectError) return refuse(c, err);
    const response = renderError(c, err);
    if (response.status >= 500) deps.logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled connect error');
    return response;
  });

  app.get('/connect', async (c) => {
    const session = await liveSession(c);
    const providers = await availableProviders(session);
    if (wantsJson(c)) {
      return c.json({ end_user: endUserOf(session), expires_at: session.expires_at, reconnect_connection_id: session.reconnect_connection_id, providers: providers.map(describe) });
    }
    return page(c, chooserPage({ token: sessionToken(c)!, providers, reconnecting: session.reconnect_connection_id }));
  });

  app.get('/connect/providers/:name', async (c) => {
    const session = await liveSession(c);
    const provider = await deps.connectFlow.providerFor(session, providerName(c));
    const fields = formFields(provider);
    if (wantsJson(c)) return c.json(describe(provider));
    const token = sessionToken(c)!;
    // Nothing to ask: straight to the provider's consent screen.
    if (isAuthorizationCode(provider) && fields.length === 0) return c.redirect(`/connect/providers/${provider.name}/authorize?session_token=${encodeURIComponent(token)}`, 302);
    return page(c, formPage({ token, provider, fields, oauth: isAuthorizationCode(provider) }));
  });

  /** Validates the provider's form; a page shows it again with the problem, JSON gets a 400 naming the fields. */
  function readForm(provider: Provider, token: string, values: Record<string, unknown>): Record<string, string | undefined> {
    const parsed = formSchema(provider).safeParse(values);
    if (parsed.success) return parsed.data as Record<string, string | undefined>;
    const issues = parsed.error.issues.map((i) => ({ path: ['body', ...i.path.map(String)], message: i.message }));
    const message = issues.map((i) => i.message).join('; ');
    const form = formPage({ token, provider, fields: formFields(provider), oauth: isAuthorizationCode(provider), error: message, values: values as Record<string, string> });
    throw new FormError(form, `invalid body: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, issues);
  }

  async function formValues(c: Context): Promise<Record<string, unknown>> {
    if ((c.req.header('content-type') ?? '').includes('application/json')) {
      const body: unknown = await c.req.json().catch(() => {
        throw new ConnectError(400, 'INVALID_JSON', 'request body is not valid JSON');
      });
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ConnectError(400, 'INVALID_REQUEST', 'the body must be a JSON object of the provider\'s fields');
      return body as Record<string, unknown>;
    }
    return formBody(c);
  }

  /** Connects with what the end user typed: API key, basic, bearer, or their own client credentials. */
  app.post('/connect/providers/:name', async (c) => {
    const values = await formValues(c);
    const session = await liveSession(c, values);
    const token = sessionToken(c, values)!;
    const provider = await deps.connectFlow.providerFor(session, providerName(c));
    const form = readForm(provider, token, values);
    if (isAuthorizationCode(provider)) {
      // The browser must make this trip itself: the app's UI opens this URL.
      const query = new URLSearchParams({ session_token: token });
      for (const [k, v] of Object.entries(form)) if (v !== undefined) query.set(k, v);
      const url = `${deps.publicUrl()}/connect/providers/${provider.name}/authorize?${query}`;
      return wantsJson(c) ? c.json({ authorization_url: url }) : c.redirect(url, 303);
    }
    let credentials: Credentials;
    let connectionConfig: Record<string, string>;
    try {
      if (provider.auth.type === 'oauth2') {
        const issued = await clientCredentialsToken(provider.auth, { clientId: form.clientId, clientSecret: form.clientSecret });
        connectionConfig = { ...configFromForm(provider, form), ...issued.connectionConfig };
        credentials = issued.credentials;
      } else {
        ({ credentials, connectionConfig } = fromForm(provider, form));
      }
      await deps.connectFlow.verify(session, provider, credentials, connectionConfig);
    } catch (err) {
      const failure = err instanceof OAuthFlowError ? new ConnectError(422, err.code, `${provider.display_name ?? provider.name} refused the client credentials: ${err.message}`) : err;
      if (!(failure instanceof ConnectError)) throw failure;
      await deps.connectFlow.authFailed(session, provider.name, { code: failure.code, message: failure.message });
      if (wantsJson(c)) return c.json(errorBody(failure.code, failure.message), failure.status);
      return page(c, formPage({ token, provider, fields: formFields(provider), oauth: false, error: failure.message, values: form as Record<string, string> }), failure.status);
    }
    const saved = await deps.connectFlow.save(session, provider, credentials, connectionConfig);
    if (wantsJson(c)) return c.json({ connection_id: saved.connection_id, provider: provider.name, reconnected: saved.reconnected }, saved.reconnected ? 200 : 201);
    return outcomePage(c, session, { status: 'success', provider: provider.name, connection_id: saved.connection_id }, `${provider.display_name ?? provider.name} connected`, 'Your account is connected.');
  });

  /** Starts the authorization-code grant: a fresh state and PKCE verifier, bound to this browser by a cookie. */
  app.get('/connect/providers/:name/authorize', async (c) => {
    const session = await liveSession(c);
    const token = sessionToken(c)!;
    const provider = await deps.connectFlow.providerFor(session, providerName(c));
    if (provider.auth.type !== 'oauth2' || provider.auth.grant !== 'authorization_code') {
      throw new ConnectError(400, 'NOT_OAUTH', `${provider.name} does not use the OAuth2 authorization-code grant`);
    }
    const form = readForm(provider, token, c.req.query());
    const client = await deps.oauthClients.get(session.environment_id, provider.name);
    if (!client) throw new ConnectError(409, 'OAUTH_CLIENT_MISSING', `the app has not set up its ${provider.display_name ?? provider.name} OAuth client (PUT /providers/${provider.name}/oauth-client)`);
    const state = newState();
    const pkce = provider.auth.pkce ? pkcePair() : null;
    const redirectUri = `${deps.publicUrl()}${OAUTH_CALLBACK_PATH}`;
    await deps.sql`
      insert into connect_oauth_states (state_hash, session_id, provider, code_verifier_enc, redirect_uri, connection_config)
      values (${hashToken(state)}, ${session.id}, ${provider.name}, ${deps.cipher.encrypt(pkce?.verifier ?? '')}, ${redirectUri},
              ${JSON.stringify(configFromForm(provider, form))}::text::jsonb)`;
    const maxAge = Math.max(1, Math.floor((session.expires_at.getTime() - Date.now()) / 1000));
    setCookie(c, STATE_COOKIE, state, { path: OAUTH_CALLBACK_PATH, httpOnly: true, sameSite: 'Lax', maxAge, secure: redirectUri.startsWith('https:') });
    return c.redirect(authorizationUrl(provider.auth, { clientId: client.clientId, redirectUri, state, challenge: pkce?.challenge ?? null, scopes: client.scopes ?? provider.auth.scopes }), 302);
  });

  app.get(OAUTH_CALLBACK_PATH, async (c) => {
    const q = c.req.query();
    const state = q.state;
    if (!state) return outcomePage(c, null, { status: 'error', provider: null, error: { code: 'STATE_MISSING', message: 'no state' } }, 'Cannot connect', 'The provider sent the browser back without the state this flow started with.', 400);
    // Bound to the browser that started the flow: a link from anyone else is refused.
    if (getCookie(c, STATE_COOKIE) !== state) {
      return outcomePage(c, null, { status: 'error', provider: null, error: { code: 'STATE_MISMATCH', message: 'state not started in this browser' } }, 'Cannot connect', 'This sign-in was not started in this browser, or it was already finished. Start again from the app.', 400);
    }
    deleteCookie(c, STATE_COOKIE, { path: OAUTH_CALLBACK_PATH });
    // Spent on first use, so a replayed callback finds nothing.
    const [attempt] = await deps.sql<{ session_id: string; provider: string; code_verifier_enc: string; redirect_uri: string; connection_config: Record<string, string> }[]>`
      update connect_oauth_states set used_at = now() where state_hash = ${hashToken(state)} and used_at is null
      returning session_id, provider, code_verifier_enc, redirect_uri, connection_config`;
    if (!attempt) {
      return outcomePage(c, null, { status: 'error', provider: null, error: { code: 'STATE_INVALID', message: 'unknown or already used state' } }, 'Cannot connect', 'This sign-in link is not valid or was already used. Start again from the app.', 400);
    }
    const session = await deps.connectSessions.byId(attempt.session_id);
    if (!session || session.used_at || session.expires_at.getTime() <= Date.now()) {
      return outcomePage(c, null, { status: 'error', provider: attempt.provider, error: { code: 'SESSION_EXPIRED', message: 'the connect session expired or was used' } }, 'Cannot connect', PROBLEM_TEXT[session?.used_at ? 'used' : 'expired']![2], 410);
    }
    const provider = await deps.connectFlow.providerFor(session, attempt.provider);
    const name = provider.display_name ?? provider.name;
    const fail = async (code: string, message: string, title: string, status = 400) => {
      await deps.connectFlow.authFailed(session, provider.name, { code, message });
      return outcomePage(c, session, { status: 'error', provider: provider.name, error: { code, message } }, title, message, status);
    };
    if (q.error) {
      const description = q.error_description ? `: ${q.error_description.slice(0, 300)}` : '';
      if (q.error === 'access_denied') return fail('access_denied', `Access to ${name} was declined${description}. Nothing was connected.`, 'Access declined');
      if (q.error === 'invalid_scope') return fail('invalid_scope', `${name} refused the permissions this app asks for${description}. Nothing was connected.`, 'Permissions refused');
      return fail(q.error.slice(0, 100), `${name} could not complete the sign-in (${q.error.slice(0, 100)}${description}). Nothing was connected.`, 'Cannot connect');
    }
    if (!q.code || provider.auth.type !== 'oauth2') return fail('CODE_MISSING', `${name} sent no authorization code. Nothing was connected.`, 'Cannot connect');
    const client = await deps.oauthClients.get(session.environment_id, provider.name);
    if (!client) return fail('OAUTH_CLIENT_MISSING', `The app's ${name} OAuth client is no longer configured.`, 'Cannot connect', 409);
    const verifier = deps.cipher.decrypt(attempt.code_verifier_enc);
    let issued;
    try {
      issued = await exchangeCode(provider.auth, client, { code: q.code, redirectUri: attempt.redirect_uri, verifier: verifier === '' ? null : verifier });
    } catch (err) {
      if (!(err instanceof OAuthFlowError)) throw err;
      const hint = err.code === 'invalid_client' ? ` The app's ${name} OAuth client was refused.` : '';
      return fail(err.code, `${name} did not issue a token: ${err.message}.${hint} Nothing was connected.`, 'Cannot connect', 502);
    }
    const connectionConfig = { ...attempt.connection_config, ...issued.connectionConfig };
    try {
      await deps.connectFlow.verify(session, provider, issued.credentials, connectionConfig);
    } catch (err) {
      if (err instanceof ConnectError) return fail(err.code, `${err.message}. Nothing was connected.`, 'Cannot connect', err.status);
      throw err;
    }
    const saved = await deps.connectFlow.save(session, provider, issued.credentials, connectionConfig);
    return outcomePage(c, session, { status: 'success', provider: provider.name, connection_id: saved.connection_id }, `${name} connected`, saved.reconnected ? 'Your account is reconnected.' : 'Your account is connected.');
  });

  return app;
}

const html = (description: string) => ({ 200: { description, contentType: 'text/html' } });
const TokenQuery = z.object({ session_token: z.string().optional().describe('The session token, unless sent as Authorization: Bearer fcs_…') });

/** The session-token routes, for the OpenAPI document. JSON when the request accepts or sends JSON. */
export const connectPageRouteSpecs = defineRoutes([
  { method: 'get', path: '/connect', tag: 'connect', auth: false, query: TokenQuery, summary: 'Hosted connect page: the providers this session may connect (JSON: their fields)', responses: html('The page, or JSON') },
  { method: 'get', path: '/connect/providers/:name', tag: 'connect', auth: false, params: ProviderParam, query: TokenQuery, summary: "One provider's form (or straight to its consent screen)", responses: html('The form, or JSON describing it') },
  { method: 'post', path: '/connect/providers/:name', tag: 'connect', auth: false, params: ProviderParam, body: z.record(z.string(), z.string()), summary: "Connect with the provider's fields (verified first); for OAuth providers, answers the authorization URL to open", responses: { ...html('The result page'), 201: { description: 'JSON: the new connection', schema: z.object({ connection_id: z.string(), provider: z.string(), reconnected: z.boolean() }) } } },
  { method: 'get', path: '/connect/providers/:name/authorize', tag: 'connect', auth: false, params: ProviderParam, query: TokenQuery, summary: "Starts OAuth2 (state + PKCE) and redirects to the provider's consent screen", responses: { 302: { description: 'To the provider' } } },
  { method: 'get', path: OAUTH_CALLBACK_PATH, tag: 'connect', auth: false, query: z.object({ state: z.string().optional(), code: z.string().optional(), error: z.string().optional() }), summary: 'OAuth2 redirect URI: exchanges the code and saves the connection', responses: html('The result page') },
]);
