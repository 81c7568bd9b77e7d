/**
 * The provider catalog, as data: base URL, auth scheme (with OAuth2 token refresh), pagination
 * defaults and rate limits. Built-in entries (catalog.json) serve every environment; an
 * environment's own entries (PUT /providers/:name) add providers or override built-ins by name,
 * without code changes.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';
import { readOne, rowRead, type RowRead } from '../db/read-together.ts';
import { templateProblem } from './base-url.ts';

/**
 * Statuses with which the provider says stored static credentials (API key, basic, bearer) no
 * longer work; default [401]. Add 403 only where the provider uses it for revoked credentials
 * rather than for missing permissions. A proxied call answered so marks the connection
 * reauth_required (host/connections/connections.ts markRefused).
 */
const authFailureStatuses = { auth_failure_statuses: z.array(z.number().int().min(400).max(499)).max(10).optional() };

export const ProviderAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('bearer'), ...authFailureStatuses }),
  z.object({ type: z.literal('api_key'), in: z.enum(['header', 'query']), name: z.string().min(1), prefix: z.string().optional(), ...authFailureStatuses }),
  z.object({ type: z.literal('basic'), ...authFailureStatuses }),
  z.object({
    type: z.literal('oauth2'),
    /** Token endpoint (code exchange, refresh, client credentials). Client id/secret live in each connection's (encrypted) credentials. */
    token_url: z.url(),
    /** How the client authenticates to the token endpoint. */
    client_auth: z.enum(['body', 'basic']).default('body'),
    /** Refresh this long before the access token expires. */
    refresh_margin_s: z.number().int().min(0).max(3600).default(60),
    /** How connect obtains the first token: the end user consents (authorization code), or the client authenticates itself. */
    grant: z.enum(['authorization_code', 'client_credentials']).default('authorization_code'),
    /** Where the end user consents (authorization-code grant). */
    authorization_url: z.url().optional(),
    /** Scopes asked for unless the environment's OAuth client names its own. */
    scopes: z.array(z.string().min(1)).default([]),
    scope_separator: z.string().default(' '),
    /** Send an S256 PKCE challenge with the authorization request. */
    pkce: z.boolean().default(true),
    /** Extra query parameters of the authorization request (e.g. access_type=offline). */
    authorization_params: z.record(z.string(), z.string()).default({}),
    /** Extra form fields of the token request (e.g. audience). */
    token_params: z.record(z.string(), z.string()).default({}),
    /** Token response fields kept in the connection's connection_config: config key → dot path, e.g. instance_url → "instance_url". */
    token_response_config: z.record(z.string(), z.string()).default({}),
  }),
]);
export type ProviderAuth = z.infer<typeof ProviderAuthSchema>;

/** Defaults `paginate()` applies under the script's own `paginate` settings. */
/** Every option of a script's `paginate` (Nango's set) except the `on_page` callback. */
export const PaginationDefaultsSchema = z.strictObject({
  type: z.enum(['cursor', 'link', 'offset', 'page']).optional(),
  response_path: z.string().optional(),
  limit: z.number().int().positive().optional(),
  limit_name_in_request: z.string().optional(),
  cursor_path_in_response: z.string().optional(),
  cursor_name_in_request: z.string().optional(),
  link_path_in_response_body: z.string().optional(),
  link_rel_in_response_header: z.string().optional(),
  offset_name_in_request: z.string().optional(),
  offset_start_value: z.number().int().optional(),
  offset_calculation_method: z.enum(['by-response-size', 'per-page']).optional(),
  in_body: z.boolean().optional(),
});
export type PaginationDefaults = z.infer<typeof PaginationDefaultsSchema>;

const BucketSchema = z.strictObject({
  requests_per_second: z.number().positive().max(100_000),
  /** Requests that may go at once after a quiet spell; 1 spaces every request evenly. */
  burst: z.number().int().min(1).max(100_000).default(1),
});
export type Bucket = z.infer<typeof BucketSchema>;

export const RateLimitSchema = z.strictObject({
  /** Shared by every run of one connection, across all worker processes. */
  per_connection: BucketSchema.optional(),
  /** Shared by every connection of this provider in the environment. */
  per_provider: BucketSchema.optional(),
  /** Headers announcing the provider's own budget: when remaining reaches 0, every caller waits for reset. */
  remaining_header: z.string().toLowerCase().optional(),
  reset_header: z.string().toLowerCase().optional(),
});
export type RateLimit = z.infer<typeof RateLimitSchema>;

/** A value the end user types when connecting (an API key, a subdomain); the connect page and its zod schema come from these. */
export const ConnectFieldSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/),
  label: z.string().min(1).max(200),
  /** Shown masked and never echoed back. */
  secret: z.boolean().default(false),
  /** Anchored regular expression the value must match. */
  pattern: z.string().max(500).optional(),
  example: z.string().max(200).optional(),
  optional: z.boolean().default(false),
});
export type ConnectField = z.infer<typeof ConnectFieldSchema>;

/** What connect needs beyond auth: values kept in connection_config, and the request that proves credentials work. */
export const ProviderConnectSchema = z.strictObject({
  /** Asked for on the connect page, stored in connection_config (e.g. subdomain for a base URL template). */
  connection_config: z.array(ConnectFieldSchema).default([]),
  /** Sent through the proxy with the new credentials before the connection is saved; any other status refuses them. */
  verification: z.strictObject({
    method: z.enum(['GET', 'POST']).default('GET'),
    endpoint: z.string().min(1).max(2000),
    success_statuses: z.array(z.number().int().min(100).max(599)).default([200]),
  }).optional(),
  /** Labels for the credential fields of api_key/basic/bearer auth (e.g. "Private app token"). */
  credential_labels: z.record(z.string(), z.string()).default({}),
  /** Where the end user finds the credentials. */
  docs_url: z.url().optional(),
});
export type ProviderConnect = z.infer<typeof ProviderConnectSchema>;

/** A URL the catalog declares, possibly with `${connectionConfig.key}` placeholders (host/proxy/base-url.ts). */
const urlTemplate = (kind: 'base_url' | 'origin') => z.string().min(1).max(2000).superRefine((value, ctx) => {
  const problem = templateProblem(value, kind);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Header names the host owns: identity (the auth scheme sets it) and framing. Neither a script nor
 * a provider entry may set them.
 */
export const HOST_OWNED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'authorization', 'cookie', 'proxy-authorization']);

/** An RFC 9110 token, the only shape a header name may have. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/**
 * Headers sent on every call to the provider (Nango's `proxy.headers`: Notion's `Notion-Version`,
 * GitHub's `X-GitHub-Api-Version`), under the script's own (see requestHeaders).
 */
export const ProviderHeadersSchema = z.record(z.string(), z.string().max(2000)).superRefine((headers, ctx) => {
  if (Object.keys(headers).length > 20) ctx.addIssue({ code: 'custom', message: 'at most 20 headers' });
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is not a header name (letters, digits and !#$%&'*+.^_\`|~-)` });
    else if (HOST_OWNED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is set by the host (auth and framing), not by the provider entry` });
    if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: `the value of "${name}" holds a line break or NUL` });
  }
});

/**
 * The headers of one call: the provider entry's defaults, then the script's own over them (names
 * compared case-insensitively, kept lowercased), minus those the host owns. Credentials go on last.
 */
export function requestHeaders(defaults: Record<string, string>, script: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of [...Object.entries(defaults), ...Object.entries(script)]) {
    if (!HOST_OWNED_HEADERS.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  return headers;
}

export const ProviderSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _'),
  /** Shown on the connect page. */
  display_name: z.string().min(1).max(100).optional(),
  /** May be templated per connection: `https://${connectionConfig.subdomain}.zendesk.com`. */
  base_url: urlTemplate('base_url'),
  /**
   * Origins besides the base URL's where this provider's credentials may go (a baseUrlOverride,
   * a redirect): `scheme://host[:port]`, templated like base_url. Nothing else is ever reached.
   */
  allowed_origins: z.array(urlTemplate('origin')).max(20).default([]),
  auth: ProviderAuthSchema,
  headers: ProviderHeadersSchema.default({}),
  pagination: PaginationDefaultsSchema.nullable().default(null),
  rate_limit: RateLimitSchema.nullable().default(null),
  connect: ProviderConnectSchema.nullable().default(null),
});
export type Provider = z.infer<typeof ProviderSchema>;
export type ProviderInput = z.input<typeof ProviderSchema>;

export type CatalogEntry = Provider & { source: 'builtin' | 'environment' };

function loadBuiltins(): Map<string, Provider> {
  const raw: unknown = JSON.parse(readFileSync(new URL('./catalog.json', import.meta.url), 'utf8'));
  const entries = z.array(ProviderSchema).parse(raw);
  return new Map(entries.map((p) => [p.name, p]));
}

let builtinsCache: Map<string, Provider> | null = null;

/** A built-in catalog entry by name (what `ferry/testing` paginates with when a test names no provider entry), or null. */
export function builtinProvider(name: string): Provider | null {
  builtinsCache ??= loadBuiltins();
  return builtinsCache.get(name) ?? null;
}

const providerColumns = 'name, base_url, allowed_origins, auth, headers, pagination, rate_limit, display_name, connect';

export function createProviders(sql: Sql, options: { builtins?: Map<string, Provider> } = {}) {
  const builtins = options.builtins ?? loadBuiltins();
  // A null display_name column means none; the schema wants it absent.
  const parseRow = (row: Record<string, unknown>): Provider => ProviderSchema.parse({ ...row, display_name: row.display_name ?? undefined });
  /** The environment's entry, else the built-in one (a run reads it with its other reads: read-together.ts). */
  const providerRead = (environmentId: string, name: string): RowRead<Provider | null> => rowRead(sql`
    select ${sql.unsafe(providerColumns)} from providers where environment_id = ${environmentId} and name = ${name}`,
  (row) => (row ? parseRow(row) : builtins.get(name) ?? null));

  return {
    async upsert(environmentId: string, input: ProviderInput): Promise<Provider> {
      const provider = ProviderSchema.parse(input);
      const json = (v: unknown) => (v === null ? null : JSON.stringify(v));
      await sql`
        insert into providers (environment_id, name, base_url, allowed_origins, auth, headers, pagination, rate_limit, display_name, connect)
        values (${environmentId}, ${provider.name}, ${provider.base_url}, ${JSON.stringify(provider.allowed_origins)}::text::jsonb,
                ${JSON.stringify(provider.auth)}::text::jsonb, ${JSON.stringify(provider.headers)}::text::jsonb, ${json(provider.pagination)}::text::jsonb, ${json(provider.rate_limit)}::text::jsonb,
                ${provider.display_name ?? null}, ${json(provider.connect)}::text::jsonb)
        on conflict (environment_id, name) do update
          set base_url = excluded.base_url, allowed_origins = excluded.allowed_origins, auth = excluded.auth, headers = excluded.headers,
              pagination = excluded.pagination, rate_limit = excluded.rate_limit, display_name = excluded.display_name,
              connect = excluded.connect, updated_at = now()`;
      return provider;
    },

    providerRead,

    /** The environment's entry, else the built-in one. */
    get(environmentId: string, name: string): Promise<Provider | null> {
      return readOne(providerRead(environmentId, name));
    },

    async list(environmentId: string): Promise<CatalogEntry[]> {
      const rows = await sql`select ${sql.unsafe(providerColumns)} from providers where environment_id = ${environmentId}`;
      const merged = new Map<string, CatalogEntry>();
      for (const p of builtins.values()) merged.set(p.name, { ...p, source: 'builtin' });
      for (const row of rows) {
        const p = parseRow(row);
        merged.set(p.name, { ...p, source: 'environment' });
      }
      return [...merged.values()].sort((a, b) => a.name.localeCompare(b.name));
    },

    async remove(environmentId: string, name: string): Promise<boolean> {
      const rows = await sql`delete from providers where environment_id = ${environmentId} and name = ${name}`;
      return rows.count > 0;
    },
  };
}
export type Providers = ReturnType<typeof createProviders>;
