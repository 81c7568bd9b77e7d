/**
 * The dashboard: server-rendered pages under /dashboard (no build step, no CDN, works offline),
 * a small script for live regions, charts as inline SVG. Signed in with an environment's secret
 * key; everything it shows or does goes through the API with that key (api-client.ts).
 */
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { html } from 'hono/html';
import { secureHeaders } from 'hono/secure-headers';
import { HTTPException } from 'hono/http-exception';
import { requestBodyLimit } from '../api/body-limit.ts';
import { errorBody, formBody } from '../api/errors.ts';
import type { Logger } from '../logger.ts';
import { createDashboardApi, isFerryApiError, type ApiFetch } from './api-client.ts';
import type { DashboardEnv } from './context.ts';
import { errorPage, href, notFoundPage, page } from './layout.ts';
import { registerConnectionPages } from './pages/connections.ts';
import { registerDeployPages } from './pages/deploys.ts';
import { registerOverviewPage } from './pages/overview.ts';
import { registerRecordPages } from './pages/records.ts';
import { registerRunPages } from './pages/run.ts';
import { registerSyncPages } from './pages/sync.ts';
import { clientAddress, type SignInLimit } from './sign-in-limit.ts';
import { csrfToken, DASHBOARD_PATH, endSession, sessionKey, startSession, validCsrf } from './session.ts';

export interface DashboardDeps {
  /** The API app's fetch, called in process. */
  api: ApiFetch;
  logger: Logger;
  /** Sign-in attempts per client address (none: unlimited). */
  signInLimit?: SignInLimit;
  /** The client address is the one the reverse proxy in front appended to X-Forwarded-For (FERRY_TRUST_PROXY). */
  trustProxy?: boolean;
}

const ASSETS: Record<string, { type: string; body: string }> = {
  'dashboard.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./assets/dashboard.css', import.meta.url), 'utf8') },
  'dashboard.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./assets/dashboard.js', import.meta.url), 'utf8') },
};

/** The dashboard page a form was posted from, if it was one of ours. */
function sameSiteReferer(referer: string | undefined): string | null {
  if (!referer) return null;
  try {
    const path = new URL(referer).pathname;
    return path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`) ? path : null;
  } catch {
    return null;
  }
}

function signInPage(error?: string) {
  return page({
    title: 'Sign in',
    body: html`<form class="signin" method="post" action="${href('/sign-in')}">
<h1>Sign in to Ferry</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<label for="key">Environment secret key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button class="primary" type="submit">Sign in</button>
<p class="muted">The key stays in an http-only cookie of this site; each environment sees only its own data.</p>
</form>`,
  });
}

export function createDashboard(deps: DashboardDeps): Hono<DashboardEnv> {
  const log = deps.logger.child({ module: 'dashboard' });
  const app = new Hono<DashboardEnv>();

  app.onError((err, c) => {
    const token = (c.get('csrf') as string | undefined) ?? undefined;
    if (isFerryApiError(err)) {
      if (err.status === 401) {
        endSession(c);
        return c.redirect(href('/sign-in'), 303);
      }
      if (err.status === 404) return c.html(notFoundPage(err.message, token), 404);
      if (err.status < 500) return c.html(errorPage(err.message, token, sameSiteReferer(c.req.header('referer'))), err.status as 400);
    }
    // hono/csrf refuses a form posted from another origin.
    if (err instanceof HTTPException && err.status < 500) return c.html(errorPage(err.status === 403 ? 'This form was not posted from the dashboard.' : err.message, token), err.status as 403);
    log.error({ err, method: c.req.method, path: c.req.path }, 'dashboard page failed');
    return c.html(errorPage('internal error', token), 500);
  });

  // Only this origin's own script and styles, no framing (clickjacking), no referrer to elsewhere.
  app.use('*', secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], objectSrc: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'same-origin',
  }));

  app.get('/assets/:file', (c) => {
    const asset = ASSETS[c.req.param('file')];
    if (!asset) return c.html(notFoundPage('No such file.'), 404);
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
  });

  // Unsafe methods must come from this origin (a second fence besides the per-form token).
  app.use('*', csrf());
  // A form is read whole (sign-in before any session): held to the API's cap, not buffered unbounded.
  app.use('*', requestBodyLimit());

  app.get('/sign-in', (c) => c.html(signInPage()));
  app.post('/sign-in', async (c) => {
    const body = await formBody(c);
    const key = typeof body.key === 'string' ? body.key.trim() : '';
    if (key === '' || key.length > 512) return c.html(signInPage('Enter an environment secret key.'), 400);
    const address = clientAddress(c, deps.trustProxy ?? false);
    const waitMs = await deps.signInLimit?.attempt(address) ?? 0;
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      const message = `Too many sign-in attempts from this address: try again in ${seconds} s.`;
      log.warn({ address }, 'dashboard sign-in refused: too many attempts');
      c.header('retry-after', String(seconds));
      if ((c.req.header('accept') ?? '').startsWith('application/json')) return c.json(errorBody('RATE_LIMITED', message), 429);
      return c.html(signInPage(message), 429);
    }
    try {
      await createDashboardApi(deps.api, key).get('/environment');
    } catch (err) {
      if (isFerryApiError(err) && err.status === 401) return c.html(signInPage('Unknown or revoked secret key.'), 401);
      throw err;
    }
    await deps.signInLimit?.succeeded(address);
    startSession(c, key);
    return c.redirect(href('/'), 303);
  });

  // Every other page needs a session; every form post needs the session's CSRF token.
  app.use('*', async (c, next) => {
    const key = sessionKey(c);
    if (!key) {
      if (c.req.method === 'GET') return c.redirect(href('/sign-in'), 303);
      return c.html(signInPage('Your session ended: sign in again.'), 401);
    }
    c.set('api', createDashboardApi(deps.api, key));
    c.set('csrf', csrfToken(key));
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const body = await formBody(c);
      if (!validCsrf(key, body.csrf)) return c.html(errorPage('This form expired or did not come from the dashboard: reload the page and try again.', c.get('csrf')), 403);
    }
    await next();
  });

  app.post('/sign-out', (c) => {
    endSession(c);
    return c.redirect(href('/sign-in'), 303);
  });

  registerOverviewPage(app);
  registerConnectionPages(app);
  registerSyncPages(app);
  registerRunPages(app);
  registerRecordPages(app);
  registerDeployPages(app);

  app.all('*', (c) => c.html(notFoundPage(`No dashboard page at ${c.req.path}.`, c.get('csrf')), 404));
  return app;
}

