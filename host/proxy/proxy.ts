/**
 * The proxied fetch: the only way a script reaches a provider. It resolves the endpoint against
 * the provider's base URL (never another host), injects the connection's credentials, retries
 * 429/5xx/network errors with backoff honouring Retry-After, bounds time and response size.
 */
import type { ProxyRequest, ProxyResponse } from '../../runtime/contract.ts';
import type { Credentials } from '../connections/connections.ts';
import type { Provider } from '../connections/providers.ts';
import type { Logger } from '../logger.ts';
import { backoffMs, retryAfterMs, RETRYABLE_STATUSES } from './retry-policy.ts';

export interface ProxyLimits {
  timeoutMs: number;
  maxResponseBytes: number;
  /** A Retry-After longer than this is not slept through: the call fails with the wait in the error. */
  maxRetryWaitMs: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = { timeoutMs: 30_000, maxResponseBytes: 20 * 1024 * 1024, maxRetryWaitMs: 60_000 };

export class ProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
  }
}

export interface ProxyTarget {
  provider: Provider;
  credentials: Credentials;
}

export interface ProxyCallRecord {
  method: string;
  path: string;
  status: number | null;
  durationMs: number;
  retries: number;
}

export function resolveUrl(baseUrl: string, request: Pick<ProxyRequest, 'endpoint' | 'params'>): URL {
  if (/^[a-z][a-z0-9+.-]*:/i.test(request.endpoint) || request.endpoint.startsWith('//')) {
    throw new ProxyError('INVALID_ENDPOINT', `endpoint must be a path relative to the provider's base URL, got "${request.endpoint}"`);
  }
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const url = new URL(base.origin);
  const [path, query] = request.endpoint.split('?', 2) as [string, string | undefined];
  url.pathname = `${basePath}/${path.replace(/^\/+/, '')}`;
  if (url.origin !== base.origin) throw new ProxyError('INVALID_ENDPOINT', `endpoint "${request.endpoint}" leaves the provider's host`);
  if (query) url.search = query;
  for (const [k, v] of Object.entries(request.params)) url.searchParams.set(k, v);
  return url;
}

function applyCredentials(url: URL, headers: Headers, target: ProxyTarget): void {
  const { auth } = target.provider;
  const c = target.credentials;
  if (auth.type === 'none' || c.type === 'none') return;
  if (auth.type === 'bearer' && c.type === 'bearer') headers.set('authorization', `Bearer ${c.token}`);
  else if (auth.type === 'bearer' && c.type === 'api_key') headers.set('authorization', `Bearer ${c.apiKey}`);
  else if (auth.type === 'api_key' && c.type === 'api_key') {
    if (auth.in === 'header') headers.set(auth.name, c.apiKey);
    else url.searchParams.set(auth.name, c.apiKey);
  } else if (auth.type === 'basic' && c.type === 'basic') {
    headers.set('authorization', `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`);
  } else {
    throw new ProxyError('CREDENTIALS_MISMATCH', `provider ${target.provider.name} expects ${auth.type} credentials, the connection has ${c.type}`);
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new ProxyError('RESPONSE_TOO_LARGE', `response of ${declared} bytes exceeds the ${maxBytes}-byte cap`);
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body.cancel().catch(() => {});
      throw new ProxyError('RESPONSE_TOO_LARGE', `response exceeds the ${maxBytes}-byte cap`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'authorization', 'cookie', 'proxy-authorization']);

export function createProxy(deps: { logger: Logger; limits?: Partial<ProxyLimits>; sleep?: (ms: number) => Promise<void> }) {
  const limits = { ...DEFAULT_PROXY_LIMITS, ...deps.limits };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  return {
    async request(target: ProxyTarget, request: ProxyRequest, onCall?: (call: ProxyCallRecord) => void): Promise<ProxyResponse> {
      const url = resolveUrl(request.baseUrlOverride ?? target.provider.base_url, request);
      if (request.baseUrlOverride && new URL(request.baseUrlOverride).host !== new URL(target.provider.base_url).host) {
        throw new ProxyError('INVALID_ENDPOINT', 'baseUrlOverride must stay on the provider\'s host');
      }
      const headers = new Headers();
      // Scripts may set ordinary headers, never the ones that carry identity or framing.
      for (const [k, v] of Object.entries(request.headers)) if (!HOP_HEADERS.has(k.toLowerCase())) headers.set(k, v);
      if (request.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
      applyCredentials(url, headers, target);

      const maxRetries = request.retries ?? (request.method === 'GET' ? 3 : 0);
      const retryOn = new Set([...RETRYABLE_STATUSES, ...(request.retryOn ?? [])]);
      const started = Date.now();
      for (let attempt = 0; ; attempt++) {
        let response: Response;
        try {
          response = await fetch(url, {
            method: request.method,
            headers,
            body: request.body ?? null,
            redirect: 'manual',
            signal: AbortSignal.timeout(limits.timeoutMs),
          });
        } catch (err) {
          if (attempt < maxRetries) {
            await sleep(backoffMs(attempt));
            continue;
          }
          onCall?.({ method: request.method, path: url.pathname, status: null, durationMs: Date.now() - started, retries: attempt });
          const reason = err instanceof Error ? (err.name === 'TimeoutError' ? `timed out after ${limits.timeoutMs} ms` : err.message) : String(err);
          throw new ProxyError('PROVIDER_UNREACHABLE', `${request.method} ${url.pathname} failed: ${reason}`);
        }
        if (retryOn.has(response.status) && attempt < maxRetries) {
          const wait = retryAfterMs(response.headers) ?? backoffMs(attempt);
          await response.body?.cancel().catch(() => {});
          if (wait > limits.maxRetryWaitMs) {
            throw Object.assign(new ProxyError('RATE_LIMITED', `provider asked to wait ${Math.round(wait / 1000)} s before retrying`), { retryAfterMs: wait });
          }
          deps.logger.debug({ status: response.status, attempt, wait }, 'proxy retry');
          await sleep(wait);
          continue;
        }
        const body = await readCapped(response, limits.maxResponseBytes);
        onCall?.({ method: request.method, path: url.pathname, status: response.status, durationMs: Date.now() - started, retries: attempt });
        const outHeaders: Record<string, string> = {};
        response.headers.forEach((v, k) => { outHeaders[k] = v; });
        return { status: response.status, headers: outHeaders, body };
      }
    },
  };
}
export type Proxy = ReturnType<typeof createProxy>;
