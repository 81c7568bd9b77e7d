/**
 * Where a provider's requests may go, per connection. A provider's `base_url` (and each of its
 * `allowed_origins`) may hold `${connectionConfig.key}` placeholders that the connection's
 * `connection_config` fills, so one provider serves many customers' hosts
 * (`https://${connectionConfig.subdomain}.zendesk.com`, Salesforce's `${connectionConfig.instance_url}`).
 * The filled base URL's origin and the filled allowed origins are the only origins credentials
 * are sent to: a `baseUrlOverride` or a redirect elsewhere — another host, port or scheme — is
 * refused, so nothing weakens the transport the catalog declares.
 */
const PLACEHOLDER = /\$\{connectionConfig\.([A-Za-z0-9_-]+)\}/g;
const HOST_VALUE = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** A base URL or origin that cannot be used: `code` is stable, `path` names the offending field. */
export class BaseUrlError extends Error {
  readonly code: 'CONNECTION_CONFIG_MISSING' | 'CONNECTION_CONFIG_INVALID' | 'INVALID_BASE_URL_OVERRIDE';
  readonly path: string[];
  constructor(code: BaseUrlError['code'], path: string[], message: string) {
    super(message);
    this.name = 'BaseUrlError';
    this.code = code;
    this.path = path;
  }
}

/** The connection_config keys a template reads. */
export function templateKeys(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/** Where a placeholder sits decides what its value may be: a whole origin, part of the host (or port), or part of the path. */
type Slot = 'origin' | 'host' | 'path';

function slotOf(template: string, index: number): Slot {
  if (index === 0) return 'origin';
  const scheme = /^https?:\/\//i.exec(template);
  if (!scheme) return 'path'; // unreachable for a checked template
  const pathStart = template.indexOf('/', scheme[0].length);
  return pathStart === -1 || index < pathStart ? 'host' : 'path';
}

function fillValue(slot: Slot, key: string, config: Record<string, unknown>): string {
  const value = Object.hasOwn(config, key) ? config[key] : undefined;
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text === '') {
    throw new BaseUrlError('CONNECTION_CONFIG_MISSING', ['connection_config', key], `connection_config.${key} is required by the provider's base URL`);
  }
  if (slot === 'host') {
    if (!HOST_VALUE.test(text)) throw new BaseUrlError('CONNECTION_CONFIG_INVALID', ['connection_config', key], `connection_config.${key} must be a host name part (letters, digits, - and .), got "${text.slice(0, 100)}"`);
    return text;
  }
  if (slot === 'path') return encodeURIComponent(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BaseUrlError('CONNECTION_CONFIG_INVALID', ['connection_config', key], `connection_config.${key} must be an absolute https URL, got "${text.slice(0, 100)}"`);
  }
  // A whole origin from connection_config is https: a stored value never sends credentials in clear text.
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) {
    throw new BaseUrlError('CONNECTION_CONFIG_INVALID', ['connection_config', key], `connection_config.${key} must be an https URL without credentials, query or fragment`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Fills a template from connection_config. Throws BaseUrlError naming the first missing or unusable key. */
export function fillTemplate(template: string, config: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_match, key: string, index: number) => fillValue(slotOf(template, index), key, config));
}

/** The template with sample values: a host label, a port after a colon, a path segment. */
function sampleOf(template: string): string {
  return template.replace(PLACEHOLDER, (_m, _key, index: number) => {
    const slot = slotOf(template, index);
    if (slot === 'origin') return 'https://placeholder.example';
    if (slot === 'host') return template[index - 1] === ':' ? '1' : 'placeholder';
    return 'x';
  });
}

/** Why a catalog template is unusable, or null. Placeholders are checked with sample values. */
export function templateProblem(template: string, kind: 'base_url' | 'origin'): string | null {
  const sample = sampleOf(template);
  const rest = template.replace(PLACEHOLDER, '');
  if (rest.includes('${')) return 'placeholders are written ${connectionConfig.key}';
  if (template.search(PLACEHOLDER) === 0 && !/^\$\{connectionConfig\.[A-Za-z0-9_-]+\}(?:\/|$)/.test(template)) {
    return 'a placeholder at the start stands for the whole origin and must be followed by / or nothing';
  }
  let url: URL;
  try {
    url = new URL(sample);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.search || url.hash) return 'must not have a query or fragment';
  if (kind === 'origin' && url.pathname !== '/') return 'an origin is scheme://host[:port], without a path';
  return null;
}

export interface AllowedOrigin {
  origin: string;
  /**
   * The catalog's own text for this origin with its placeholders blanked, or null when a value
   * from connection_config supplies the whole origin: the address guard trusts only this text.
   */
  declared: string | null;
}

export interface ResolvedBase {
  baseUrl: string;
  /** The base URL's origin first, then the provider's other declared origins. */
  origins: AllowedOrigin[];
}

function declared(template: string): string | null {
  return template.search(PLACEHOLDER) === 0 ? null : sampleOf(template);
}

/** Fills a template and parses it: values that each looked right may still not make a URL (a port of "abc"). */
function fillUrl(template: string, config: Record<string, unknown>): URL {
  const filled = fillTemplate(template, config);
  try {
    return new URL(filled);
  } catch {
    const keys = templateKeys(template);
    throw new BaseUrlError('CONNECTION_CONFIG_INVALID', ['connection_config', keys[0] ?? ''], `connection_config ${keys.map((k) => `.${k}`).join(', ')} make "${filled.slice(0, 200)}", which is not a URL`);
  }
}

export function resolveBase(provider: { base_url: string; allowed_origins?: string[] | undefined }, config: Record<string, unknown>): ResolvedBase {
  const base = fillUrl(provider.base_url, config);
  const baseUrl = `${base.origin}${base.pathname}`;
  const origins: AllowedOrigin[] = [{ origin: base.origin, declared: declared(provider.base_url) }];
  for (const template of provider.allowed_origins ?? []) {
    const { origin } = fillUrl(template, config);
    if (!origins.some((o) => o.origin === origin)) origins.push({ origin, declared: declared(template) });
  }
  return { baseUrl, origins };
}

/** The declared origin a URL is on (scheme, host and port all equal), or undefined. */
export function originOf(url: URL, origins: AllowedOrigin[]): AllowedOrigin | undefined {
  return origins.find((o) => o.origin === url.origin);
}

/** A script's (or dryrun's) baseUrlOverride, accepted only on one of the declared origins. */
export function checkOverride(override: string, base: ResolvedBase): string {
  let url: URL;
  try {
    url = new URL(override);
  } catch {
    throw new BaseUrlError('INVALID_BASE_URL_OVERRIDE', ['baseUrlOverride'], `baseUrlOverride must be an absolute URL, got "${override.slice(0, 100)}"`);
  }
  if (url.username || url.password) throw new BaseUrlError('INVALID_BASE_URL_OVERRIDE', ['baseUrlOverride'], 'baseUrlOverride must not carry credentials');
  if (!originOf(url, base.origins)) {
    throw new BaseUrlError('INVALID_BASE_URL_OVERRIDE', ['baseUrlOverride'],
      `baseUrlOverride ${url.origin} is not one of the provider's origins (${base.origins.map((o) => o.origin).join(', ')}): scheme, host and port must match`);
  }
  return `${url.origin}${url.pathname}`;
}
