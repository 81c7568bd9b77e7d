/**
 * A provider API built for proxy tests, on 127.0.0.1: it enforces auth (bearer, API key in a
 * header or the query, basic, OAuth2 access tokens that expire), runs an OAuth2 token endpoint
 * whose refresh tokens rotate (a reused one is refused with invalid_grant), rate-limits per
 * credential over a sliding second with 429 + Retry-After, pages its items five ways (cursor,
 * next URL in the body, Link header, offset, page number), can announce a request budget in
 * remaining/reset headers (and answer 429 when it is spent), and has fault knobs. Everything it
 * saw is in `requests`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  apiKeyHeader: string | undefined;
  status: number;
  at: number;
  /** Under `rateBudget`: when (epoch ms) the budget announced in this answer resets. */
  resetAt?: number;
}

export interface RateBudget {
  /** Requests per window. */
  size: number;
  /** The window opens at the first request after a reset and closes at the next whole second after this long. */
  windowMs: number;
  remainingHeader?: string;
  resetHeader?: string;
}

export interface ProviderOptions {
  /** Requests allowed per credential in any 1000 ms window; above it: 429. */
  requestsPerSecond?: number;
  items?: number;
  /** How long issued access tokens live (seconds). */
  tokenTtlS?: number;
}

export interface TestProvider {
  url: string;
  requests: SeenRequest[];
  /** The next `count` item requests answer `status` (with Retry-After when given). */
  failNext(count: number, status: number, retryAfter?: string): void;
  /** The next item request answers `status` with exactly these headers. */
  failNextWith(status: number, headers: Record<string, string>): void;
  /**
   * From now on every authenticated request spends one of `size` requests per window; answers
   * carry the remaining count and the reset (epoch seconds) in the named headers, and a request
   * made while none remain is answered 429 (no Retry-After). `null` turns it off.
   */
  rateBudget(budget: RateBudget | null): void;
  /** Accepted static secrets. */
  bearer: string;
  apiKey: string;
  basic: { username: string; password: string };
  oauth: {
    clientId: string;
    clientSecret: string;
    /** Issues a fresh token pair as if the user just authorised. */
    authorise(ttlS?: number): { accessToken: string; refreshToken: string; expiresAt: string };
    /** Refresh requests received (grant attempts), including refused ones. */
    refreshes: Array<{ refreshToken: string; ok: boolean }>;
    revokeAll(): void;
    /** Makes the token endpoint slow, to widen race windows. */
    delayMs: number;
    /** Token requests received so far, answered or not. */
    received: number;
    /** While set, the token endpoint answers only once it resolves: a refresh held mid-way for as long as a test needs. */
    hold: Promise<void> | null;
  };
  count429(): number;
  close(): Promise<void>;
}

export async function startTestProvider(options: ProviderOptions = {}): Promise<TestProvider> {
  const items = Array.from({ length: options.items ?? 25 }, (_, i) => ({ id: `item-${String(i + 1).padStart(4, '0')}`, n: i + 1 }));
  const requests: SeenRequest[] = [];
  const windows = new Map<string, number[]>();
  let faults: Array<{ status: number; headers: Record<string, string> }> = [];
  let budget: (Required<RateBudget> & { remaining: number; resetAt: number }) | null = null;
  const accessTokens = new Map<string, number>(); // token → expiry (ms)
  const refreshTokens = new Set<string>();
  let seq = 0;
  const oauth: TestProvider['oauth'] = {
    clientId: 'client-1',
    clientSecret: 'client-secret-1',
    refreshes: [],
    delayMs: 0,
    received: 0,
    hold: null,
    authorise(ttlS = options.tokenTtlS ?? 3600) {
      const accessToken = `at-${++seq}`;
      const refreshToken = `rt-${seq}`;
      accessTokens.set(accessToken, Date.now() + ttlS * 1000);
      refreshTokens.add(refreshToken);
      return { accessToken, refreshToken, expiresAt: new Date(Date.now() + ttlS * 1000).toISOString() };
    },
    revokeAll() {
      refreshTokens.clear();
      accessTokens.clear();
    },
  };
  const basic = { username: 'ada', password: 'lovelace' };
  const bearer = 'static-bearer-token';
  const apiKey = 'api-key-123';

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  function identify(req: IncomingMessage, url: URL): string | null {
    const auth = req.headers.authorization;
    if (auth === `Bearer ${bearer}`) return 'bearer';
    if (auth === `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`) return 'basic';
    if (req.headers['x-api-key'] === apiKey || url.searchParams.get('api_key') === apiKey) return 'api-key';
    const token = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
    if (token && (accessTokens.get(token) ?? 0) > Date.now()) return 'oauth';
    return null;
  }

  async function tokenEndpoint(req: IncomingMessage, res: ServerResponse) {
    let text = '';
    for await (const chunk of req) text += chunk;
    const form = new URLSearchParams(text);
    oauth.received++;
    if (oauth.hold) await oauth.hold;
    if (oauth.delayMs) await new Promise((r) => setTimeout(r, oauth.delayMs));
    const rt = form.get('refresh_token') ?? '';
    if (form.get('client_id') !== oauth.clientId || form.get('client_secret') !== oauth.clientSecret) {
      oauth.refreshes.push({ refreshToken: rt, ok: false });
      return json(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') !== 'refresh_token' || !refreshTokens.has(rt)) {
      oauth.refreshes.push({ refreshToken: rt, ok: false });
      return json(res, 400, { error: 'invalid_grant' });
    }
    refreshTokens.delete(rt); // rotation: each refresh token works once
    oauth.refreshes.push({ refreshToken: rt, ok: true });
    const next = oauth.authorise();
    return json(res, 200, { access_token: next.accessToken, refresh_token: next.refreshToken, expires_in: options.tokenTtlS ?? 3600, token_type: 'bearer' });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/oauth/token' && req.method === 'POST') {
      void tokenEndpoint(req, res);
      return;
    }
    const seen: SeenRequest = {
      method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization, apiKeyHeader: req.headers['x-api-key'] as string | undefined, status: 0, at: Date.now(),
    };
    requests.push(seen);
    // Every answer after the budget is taken announces it.
    let budgetHeaders: Record<string, string> = {};
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      seen.status = status;
      json(res, status, body, { ...budgetHeaders, ...headers });
    };

    if (url.pathname === '/redirect/same') return void (seen.status = 302, res.writeHead(302, { location: '/v1/me' }).end());
    if (url.pathname === '/redirect/away') return void (seen.status = 302, res.writeHead(302, { location: 'http://example.com/steal' }).end());
    if (url.pathname === '/big') {
      seen.status = 200;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(64 * 1024));
      return;
    }
    if (url.pathname === '/slow') return void setTimeout(() => answer(200, { ok: true }), 2000);

    const who = identify(req, url);
    if (!who) return answer(401, { error: 'unauthorized' });

    if (options.requestsPerSecond) {
      const now = Date.now();
      const recent = (windows.get(who) ?? []).filter((t) => t > now - 1000);
      if (recent.length >= options.requestsPerSecond) {
        windows.set(who, recent);
        return answer(429, { error: 'rate limited' }, { 'retry-after': '1' });
      }
      recent.push(now);
      windows.set(who, recent);
    }
    if (budget) {
      const now = Date.now();
      if (now >= budget.resetAt) {
        budget.remaining = budget.size;
        budget.resetAt = Math.ceil((now + budget.windowMs) / 1000) * 1000;
      }
      seen.resetAt = budget.resetAt;
      const announced = { [budget.remainingHeader]: String(Math.max(0, budget.remaining - 1)), [budget.resetHeader]: String(budget.resetAt / 1000) };
      if (budget.remaining === 0) return answer(429, { error: 'budget spent' }, { ...announced, [budget.remainingHeader]: '0' });
      budget.remaining--;
      budgetHeaders = announced;
    }
    const fault = faults.shift();
    if (fault) return answer(fault.status, { error: 'injected' }, fault.headers);

    if (url.pathname === '/v1/me') return answer(200, { who });
    const limit = Number(url.searchParams.get('limit') ?? '10');
    if (url.pathname === '/v1/items/cursor') {
      const start = Number(url.searchParams.get('cursor') ?? '0');
      const page = items.slice(start, start + limit);
      const next = start + limit < items.length ? String(start + limit) : null;
      return answer(200, { results: page, paging: { next } });
    }
    if (url.pathname === '/v1/items/link') {
      const start = Number(url.searchParams.get('start') ?? '0');
      const page = items.slice(start, start + limit);
      // rel="first" before rel="next", as GitHub sends them: only the next one is to be followed.
      const links = [`<http://${req.headers.host}/v1/items/link?start=0&limit=${limit}>; rel="first"`];
      if (start + limit < items.length) links.push(`<http://${req.headers.host}/v1/items/link?start=${start + limit}&limit=${limit}>; rel="next"`);
      return answer(200, page, { link: links.join(', ') });
    }
    if (url.pathname === '/v1/items/link-body') {
      const start = Number(url.searchParams.get('start') ?? '0');
      const next = start + limit < items.length ? `http://${req.headers.host}/v1/items/link-body?start=${start + limit}&limit=${limit}` : null;
      return answer(200, { data: items.slice(start, start + limit), links: { next } });
    }
    if (url.pathname === '/v1/items/page') {
      const page = Number(url.searchParams.get('page') ?? '1');
      return answer(200, { data: items.slice((page - 1) * limit, page * limit), page });
    }
    if (url.pathname === '/v1/items/offset') {
      const offset = Number(url.searchParams.get('offset') ?? '0');
      return answer(200, { items: items.slice(offset, offset + limit) });
    }
    return answer(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    bearer, apiKey, basic, oauth,
    failNext(count, status, retryAfter) {
      faults = [...faults, ...Array.from({ length: count }, () => ({ status, headers: retryAfter ? { 'retry-after': retryAfter } : {} as Record<string, string> }))];
    },
    failNextWith(status, headers) {
      faults.push({ status, headers });
    },
    rateBudget(next) {
      budget = next && { remainingHeader: 'x-budget-remaining', resetHeader: 'x-budget-reset', ...next, remaining: next.size, resetAt: 0 };
    },
    count429: () => requests.filter((r) => r.status === 429).length,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
