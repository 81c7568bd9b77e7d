/**
 * The proxied fetch: the only way a script reaches a provider. It resolves the endpoint against
 * the connection's base URL (the provider's, templated from connection_config; never another
 * origin — host, port and scheme — than the catalog declares, never a private address the catalog
 * does not itself name), injects the connection's credentials (refreshing OAuth2 tokens), takes a token
 * from the shared rate limits, retries 429/5xx/network errors with backoff honouring the
 * provider's wait, bounds time and response size, and records each call on the run.
 */
import type { ProxyRequest, ProxyResponse } from '@ferry/runtime/contract';
import { ReauthRequiredError, type Connections, type Credentials, type OnReauthRequired } from '../connections/connections.ts';
import type { OAuthRefresher } from '../connections/oauth-refresh.ts';
import { requestHeaders, type Provider } from '../connections/providers.ts';
import { originOf, resolveBase, type AllowedOrigin } from '../connections/base-url.ts';
import type { Logger } from '../logger.ts';
import { baseUrlIsPrivate, type LookupFn } from './address-guard.ts';
import { describeFailure, redactUrl, secretsOf } from './describe.ts';
import { ProxyError } from './proxy-error.ts';
import { targetUrl } from './target-url.ts';
import { exchange, type HttpResult } from './http-client.ts';
import type { BucketSpec, RateLimiter } from './rate-limiter.ts';
import { backoffMs, resetValueMs, retryAfterMs, RETRYABLE_STATUSES } from './retry-policy.ts';
import type { ProxyCallRecord, RunCalls } from './run-calls.ts';

export type { ProxyCallRecord } from './run-calls.ts';

export interface ProxyLimits {
  timeoutMs: number;
  maxResponseBytes: number;
  /** A wait longer than this is not slept through: the call fails with RETRY_AFTER and the wait, and the run is rescheduled. */
  maxRetryWaitMs: number;
  maxRedirects: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = { timeoutMs: 30_000, maxResponseBytes: 20 * 1024 * 1024, maxRetryWaitMs: 60_000, maxRedirects: 5 };

export { ProxyError } from './proxy-error.ts';

export interface ProxyTarget {
  provider: Provider;
  connection: { id: string; connection_id: string; environment_id: string; connection_config: Record<string, unknown> };
}

export interface ProxyCallOptions {
  /** Records the call on this run (run_calls). */
  runId?: string;
  onCall?: (call: ProxyCallRecord) => void;
  /** Send with these instead of the stored credentials (connect verifies credentials before saving them); never refreshed. */
  credentials?: Credentials;
}

export interface ProxyDeps {
  logger: Logger;
  connections: Connections;
  refresher: OAuthRefresher;
  /** Runs in the transaction that marks a connection whose static credentials the provider refused (connect announces it). */
  onReauthRequired?: OnReauthRequired;
  rateLimiter: RateLimiter;
  calls: RunCalls;
  limits?: Partial<ProxyLimits>;
  sleep?: (ms: number) => Promise<void>;
  /** DNS resolver under the SSRF guard (the system's by default). */
  lookup?: LookupFn;
}

function applyCredentials(url: URL, headers: Record<string, string>, provider: Provider, c: Credentials): void {
  const { auth } = provider;
  if (auth.type === 'none' || c.type === 'none') return;
  if ((auth.type === 'bearer' || auth.type === 'oauth2') && c.type === 'oauth2') headers.authorization = `Bearer ${c.accessToken}`;
  else if (auth.type === 'bearer' && c.type === 'bearer') headers.authorization = `Bearer ${c.token}`;
  else if (auth.type === 'bearer' && c.type === 'api_key') headers.authorization = `Bearer ${c.apiKey}`;
  else if (auth.type === 'api_key' && c.type === 'api_key') {
    const value = `${auth.prefix ?? ''}${c.apiKey}`;
    if (auth.in === 'header') headers[auth.name.toLowerCase()] = value;
    else url.searchParams.set(auth.name, value);
  } else if (auth.type === 'basic' && c.type === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  } else {
    throw new ProxyError('CREDENTIALS_MISMATCH', `provider ${provider.name} expects ${auth.type} credentials, the connection has ${c.type}`);
  }
}

const STATIC_CREDENTIAL_NAMES = { api_key: 'API key', basic: 'username and password', bearer: 'token' } as const;

/** What the stored static credentials are called, when `status` is one the provider declares as refusing them; else null. */
function refusedCredentials(provider: Provider, status: number): string | null {
  const { auth } = provider;
  if (auth.type !== 'api_key' && auth.type !== 'basic' && auth.type !== 'bearer') return null;
  return (auth.auth_failure_statuses ?? [401]).includes(status) ? STATIC_CREDENTIAL_NAMES[auth.type] : null;
}

/** The address guard trusts only the catalog's own text: a private host there (a local provider, a test server) may be reached. */
const allowsPrivate = (origin: AllowedOrigin) => origin.declared !== null && baseUrlIsPrivate(origin.declared);

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function rateLimitBuckets(target: ProxyTarget): BucketSpec[] {
  const limit = target.provider.rate_limit;
  const buckets: BucketSpec[] = [{ key: `conn:${target.connection.id}`, ...(limit?.per_connection && { requestsPerSecond: limit.per_connection.requests_per_second, burst: limit.per_connection.burst }) }];
  if (limit?.per_provider) {
    buckets.push({ key: `provider:${target.connection.environment_id}:${target.provider.name}`, requestsPerSecond: limit.per_provider.requests_per_second, burst: limit.per_provider.burst });
  }
  return buckets;
}

export function createProxy(deps: ProxyDeps) {
  const limits = { ...DEFAULT_PROXY_LIMITS, ...deps.limits };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = deps.logger.child({ module: 'proxy' });

  async function credentialsFor(target: ProxyTarget, rejectedAccessToken?: string): Promise<Credentials> {
    const status = await deps.connections.authStatus(target.connection.id);
    if (status?.auth_status === 'reauth_required') throw new ReauthRequiredError(target.connection.connection_id, status.auth_error ?? 'credentials revoked');
    const { auth } = target.provider;
    if (auth.type !== 'oauth2') return deps.connections.credentials(target.connection.id);
    return deps.refresher.fresh(target.connection, auth, rejectedAccessToken);
  }

  /** Waits for a slot in the shared rate limits (resolving with the ms waited), or fails with RETRY_AFTER when the wait is too long. */
  async function awaitSlot(buckets: BucketSpec[]): Promise<number> {
    const wait = await deps.rateLimiter.reserve(buckets);
    if (wait <= 0) return 0;
    if (wait > limits.maxRetryWaitMs) {
      await deps.rateLimiter.refund(buckets);
      throw new ProxyError('RETRY_AFTER', `rate limit: next slot in ${Math.ceil(wait / 1000)} s`, wait);
    }
    await sleep(wait);
    return wait;
  }

  /**
   * Sends one request, following redirects only to the provider's declared origins (same
   * scheme, host and port): the credentials in `headers` never go anywhere else.
   */
  async function sendFollowing(url: URL, method: string, headers: Record<string, string>, body: string | undefined, origins: AllowedOrigin[], show: (url: URL) => string): Promise<HttpResult & { url: URL }> {
    for (let hops = 0; ; hops++) {
      const on = originOf(url, origins);
      if (!on) throw new ProxyError('INVALID_ENDPOINT', `${method} ${show(url)} is not on the provider's origins`);
      const result = await exchange({ url, method, headers, body, timeoutMs: limits.timeoutMs, maxResponseBytes: limits.maxResponseBytes, allowPrivate: allowsPrivate(on), ...(deps.lookup && { lookup: deps.lookup }) });
      const location = result.headers.location;
      if (!REDIRECTS.has(result.status) || !location) return { ...result, url };
      const next = new URL(location, url);
      if (!originOf(next, origins)) {
        throw new ProxyError('REDIRECT_BLOCKED', `${method} ${show(url)} redirected to ${next.origin}, which is not one of the provider's origins (${origins.map((o) => o.origin).join(', ')}); credentials never leave them`);
      }
      if (hops >= limits.maxRedirects) throw new ProxyError('TOO_MANY_REDIRECTS', `${method} ${show(url)}: more than ${limits.maxRedirects} redirects`);
      if (result.status === 303 || ((result.status === 301 || result.status === 302) && method !== 'GET')) {
        method = 'GET';
        body = undefined;
        delete headers['content-type'];
      }
      url = next;
    }
  }

  async function request(target: ProxyTarget, request: ProxyRequest, options: ProxyCallOptions = {}): Promise<ProxyResponse> {
    const { provider } = target;
    const base = resolveBase(provider, target.connection.connection_config);
    const url = targetUrl(base, request);
    let secrets: string[] = [];
    const secretParams = provider.auth.type === 'api_key' && provider.auth.in === 'query' ? [provider.auth.name] : [];
    const show = (u: URL) => redactUrl(u, secrets, secretParams);
    const buckets = rateLimitBuckets(target);
    const resetHeader = provider.rate_limit?.reset_header;
    const maxRetries = request.retries ?? (request.method === 'GET' ? 3 : 0);
    const retryOn = new Set([...RETRYABLE_STATUSES, ...(request.retryOn ?? [])]);
    const started = Date.now();
    let attempt = 0;
    let rateLimitWaitMs = 0;
    const record = (status: number | null, error?: string) => {
      const call: ProxyCallRecord = { method: request.method, path: url.pathname, status, durationMs: Date.now() - started, retries: attempt, rateLimitWaitMs, ...(error !== undefined && { error }) };
      options.onCall?.(call);
      if (options.runId) deps.calls.record(options.runId, call).catch((err: unknown) => log.error({ err, runId: options.runId }, 'recording a proxy call failed'));
    };

    try {
      let credentials = options.credentials ?? await credentialsFor(target);
      secrets = secretsOf(credentials);
      let refreshedAfter401 = false;
      let retriedReplaced = false;
      for (;;) {
        rateLimitWaitMs += await awaitSlot(buckets);
        const sendUrl = new URL(url);
        // The provider's defaults, the script's own over them; never the ones that carry identity or framing.
        const headers = requestHeaders(provider.headers, request.headers);
        if (request.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
        applyCredentials(sendUrl, headers, provider, credentials);

        let result: HttpResult & { url: URL };
        try {
          result = await sendFollowing(sendUrl, request.method, headers, request.body, base.origins, show);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (err instanceof ProxyError || code === 'ADDRESS_BLOCKED' || code === 'RESPONSE_TOO_LARGE') {
            throw err instanceof ProxyError ? err : new ProxyError(String(code), (err as Error).message);
          }
          if (attempt < maxRetries) {
            attempt++;
            await sleep(backoffMs(attempt - 1));
            continue;
          }
          throw new ProxyError('PROVIDER_UNREACHABLE', `${request.method} ${show(sendUrl)} failed: ${err instanceof Error ? err.message : String(err)}`);
        }

        // An OAuth2 token the provider refused: refresh once (single-flight) and try again.
        if (result.status === 401 && credentials.type === 'oauth2' && !refreshedAfter401 && !options.credentials) {
          refreshedAfter401 = true;
          credentials = await credentialsFor(target, credentials.accessToken);
          secrets = [...secrets, ...secretsOf(credentials)];
          continue;
        }

        // Static credentials the provider says stopped working: only the end user can fix them, so
        // the connection is marked (once, however many calls were refused) and the call fails.
        const refused = options.credentials ? null : refusedCredentials(provider, result.status);
        if (refused) {
          const reason = `${provider.display_name ?? provider.name} refused the stored ${refused} (${request.method} ${url.pathname} answered HTTP ${result.status})`;
          const outcome = await deps.connections.markRefused(target.connection, credentials, reason, deps.onReauthRequired);
          if (outcome === 'replaced' && !retriedReplaced) {
            // New credentials were stored while this call was out: they get their own try.
            retriedReplaced = true;
            credentials = await credentialsFor(target);
            secrets = [...secrets, ...secretsOf(credentials)];
            continue;
          }
          if (outcome === 'gone') throw new ProxyError('CONNECTION_NOT_FOUND', `connection ${target.connection.connection_id} was deleted`);
          if (outcome !== 'replaced') {
            if (outcome === 'marked') log.warn({ connection: target.connection.connection_id, status: result.status }, 'provider refused the stored credentials: connection needs re-authorisation');
            throw new ReauthRequiredError(target.connection.connection_id, reason);
          }
        }

        // The provider's own budget ran out: everyone on this connection waits for its reset.
        const remainingHeader = provider.rate_limit?.remaining_header;
        if (remainingHeader && result.headers[remainingHeader] === '0' && result.status !== 429) {
          const reset = resetHeader && result.headers[resetHeader] ? resetValueMs(result.headers[resetHeader]) : null;
          if (reset !== null && reset > 0) await deps.rateLimiter.block([buckets[0]!.key], reset);
        }

        if (result.status === 429) {
          // A rate limit's wait is shared, retries left or not: the next request of every run on
          // this connection, in any process, waits it out (awaitSlot), this one included.
          const wait = retryAfterMs(result.headers, resetHeader) ?? backoffMs(attempt, 1000, limits.maxRetryWaitMs);
          await deps.rateLimiter.block([buckets[0]!.key], wait);
          if (attempt >= maxRetries || wait > limits.maxRetryWaitMs) {
            const why = attempt >= maxRetries ? `after ${attempt} ${attempt === 1 ? 'retry' : 'retries'}` : 'too long to wait in the run';
            throw new ProxyError('RETRY_AFTER', `${describeFailure(request.method, show(result.url), 429, result.body, secrets)} (${why}); retry in ${Math.ceil(wait / 1000)} s`, wait);
          }
          log.debug({ status: 429, attempt, wait, path: url.pathname }, 'proxy retry after the shared rate-limit wait');
          attempt++;
          continue;
        }
        if (retryOn.has(result.status) && attempt < maxRetries) {
          const asked = retryAfterMs(result.headers, resetHeader);
          const wait = asked ?? backoffMs(attempt);
          if (wait > limits.maxRetryWaitMs) {
            throw new ProxyError('RETRY_AFTER', `${describeFailure(request.method, show(result.url), result.status, result.body, secrets)}; the provider asked to wait ${Math.ceil(wait / 1000)} s`, wait);
          }
          log.debug({ status: result.status, attempt, wait, path: url.pathname }, 'proxy retry');
          attempt++;
          await sleep(wait);
          continue;
        }
        record(result.status);
        return {
          status: result.status, headers: result.headers, body: result.body,
          ...(result.status >= 400 && { failure: describeFailure(request.method, show(result.url), result.status, result.body, secrets) }),
        };
      }
    } catch (err) {
      record(null, err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  return { request };
}
export type Proxy = ReturnType<typeof createProxy>;
