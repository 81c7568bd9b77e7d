/**
 * How a provider call reads in errors (run errors, action errors, dryrun output): the method,
 * the full URL with credentials redacted (userinfo, the values of credential-shaped query keys,
 * any of the connection's secrets wherever they appear), the status and the start of the body.
 */
import { clipText } from '../clip-text.ts';
import type { Credentials } from '../connections/connections.ts';

const REDACTED = '***';
/** Words that make a query key's value a secret: api_key, access_token, clientSecret, hapikey, sig, … */
const SECRET_WORDS = new Set(['key', 'apikey', 'hapikey', 'token', 'secret', 'password', 'passwd', 'pwd', 'pass', 'signature', 'sig', 'auth', 'authorization', 'session', 'sessionid', 'sid', 'credential', 'credentials', 'jwt', 'bearer', 'otp']);

/** api_key, apiKey, X-Api-Key → ['api', 'key']; the OAuth `code` only as the whole key. */
function isSecretKey(name: string): boolean {
  if (name.toLowerCase() === 'code') return true;
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}
const BODY_EXCERPT_CHARS = 300;

/** The connection's secret strings (to strip from anything shown). */
export function secretsOf(credentials: Credentials | undefined): string[] {
  if (!credentials) return [];
  const c = credentials;
  const all = c.type === 'api_key' ? [c.apiKey]
    : c.type === 'bearer' ? [c.token]
      : c.type === 'basic' ? [c.password]
        : c.type === 'oauth2' ? [c.accessToken, c.refreshToken, c.clientSecret]
          : [];
  // Very short values would redact ordinary text; they are not worth hiding by substring.
  return all.filter((s): s is string => typeof s === 'string' && s.length >= 6);
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) {
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return out;
}

/** The URL as shown to people: no userinfo, secret query values replaced by ***. */
export function redactUrl(url: URL, secrets: string[] = [], secretParams: string[] = []): string {
  const named = new Set(secretParams.map((p) => p.toLowerCase()));
  const query = [...url.searchParams].map(([k, v]) => {
    const hidden = isSecretKey(k) || named.has(k.toLowerCase());
    return `${encodeURIComponent(k)}=${hidden ? REDACTED : encodeURIComponent(v)}`;
  });
  return scrub(`${url.origin}${url.pathname}${query.length ? `?${query.join('&')}` : ''}`, secrets);
}

/** The first few hundred characters of a body, on one line, without the connection's secrets. */
export function bodyExcerpt(body: string, secrets: string[] = []): string {
  const flat = scrub(body, secrets).replace(/\s+/g, ' ').trim();
  return clipText(flat, BODY_EXCERPT_CHARS);
}

/**
 * A URL's first characters in a failure: next-page links carry tokens of thousands of
 * characters (Microsoft Graph's `$skiptoken`), and the whole description must fit the runtime's
 * 2,000-character `failure` (ProxyResponseSchema), or the script would see a schema error instead.
 */
const URL_SHOWN_CHARS = 1_200;

/** "GET https://api.example.com/v1/items?api_key=*** answered 404: {"error":"not found"}" */
export function describeFailure(method: string, shownUrl: string, status: number, body: string, secrets: string[] = []): string {
  const excerpt = bodyExcerpt(body, secrets);
  const url = clipText(shownUrl, URL_SHOWN_CHARS);
  return `${method} ${url} answered ${status}${excerpt ? `: ${excerpt}` : ' with an empty body'}`;
}
