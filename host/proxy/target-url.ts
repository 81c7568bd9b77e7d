/**
 * Where a script's request goes: the one function the host's proxy and `ferry/testing`'s
 * `liveProxy` both resolve an endpoint with, so a dry run against the real provider and a
 * deployed run send the same request. A relative endpoint is under the base URL (or an accepted
 * `baseUrlOverride`); an absolute one (a next-page link a provider answered with) is sent where it
 * points only when that is one of the provider's origins (scheme, host and port), since the
 * caller adds the connection's credentials to whatever URL this returns.
 */
import type { ProxyRequest } from '@ferry/runtime/contract';
import { checkOverride, originOf, type ResolvedBase } from '../connections/base-url.ts';
import { ProxyError } from './proxy-error.ts';

export { ProxyError };

const ABSOLUTE_HTTP = /^https?:\/\//i;
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

const shown = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

export function targetUrl(base: ResolvedBase, request: Pick<ProxyRequest, 'endpoint' | 'params' | 'baseUrlOverride'>): URL {
  const { endpoint } = request;
  let url: URL;
  if (ABSOLUTE_HTTP.test(endpoint)) {
    if (request.baseUrlOverride !== undefined) throw new ProxyError('INVALID_ENDPOINT', `endpoint "${shown(endpoint)}" is absolute: give it without a baseUrlOverride`);
    try {
      url = new URL(endpoint);
    } catch {
      throw new ProxyError('INVALID_ENDPOINT', `endpoint "${shown(endpoint)}" is not a URL`);
    }
    if (url.username || url.password) throw new ProxyError('INVALID_ENDPOINT', 'an absolute endpoint must not carry credentials');
    if (!originOf(url, base.origins)) {
      throw new ProxyError('INVALID_ENDPOINT',
        `endpoint ${shown(endpoint)} is on ${url.origin}, not one of the provider's origins (${base.origins.map((o) => o.origin).join(', ')}): the connection's credentials go to no other host, port or scheme`);
    }
    url.hash = '';
  } else {
    if (OTHER_SCHEME.test(endpoint) || endpoint.startsWith('//') || endpoint.startsWith('\\')) {
      throw new ProxyError('INVALID_ENDPOINT', `endpoint must be a path relative to the provider's base URL or a URL on one of its origins, got "${shown(endpoint)}"`);
    }
    const baseUrl = new URL(request.baseUrlOverride === undefined ? base.baseUrl : checkOverride(request.baseUrlOverride, base));
    url = new URL(baseUrl.origin);
    // An endpoint may carry its own query (`/items?$top=100`).
    const [path = '', query] = endpoint.split(/\?(.*)/s, 2);
    url.pathname = `${baseUrl.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
    if (url.origin !== baseUrl.origin) throw new ProxyError('INVALID_ENDPOINT', `endpoint "${shown(endpoint)}" leaves the provider's host`);
    if (query) url.search = query;
  }
  for (const [k, v] of Object.entries(request.params)) url.searchParams.set(k, v);
  return url;
}
