/**
 * `ferry providers set`: the flags that describe a provider entry, validated with zod and merged
 * over the entry the host already has (or a JSON file), then checked against the host's own
 * ProviderSchema so a mistake is named by the flag that made it before anything is sent.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ProviderSchema } from '@ferry/host/providers';
import { UsageError } from './command.ts';

export const PROVIDER_SET_OPTIONS = {
  from: { type: 'string' },
  'base-url': { type: 'string' },
  'display-name': { type: 'string' },
  auth: { type: 'string' },
  'api-key-in': { type: 'string' },
  'api-key-name': { type: 'string' },
  'api-key-prefix': { type: 'string' },
  'token-url': { type: 'string' },
  'authorization-url': { type: 'string' },
  grant: { type: 'string' },
  scopes: { type: 'string' },
  header: { type: 'string', multiple: true },
  'allowed-origin': { type: 'string', multiple: true },
  'client-id': { type: 'string' },
  'client-secret-stdin': { type: 'boolean', default: false },
  // Declared only to refuse it with a useful message: a secret in argv lands in shell history and `ps`.
  'client-secret': { type: 'string' },
} as const;

export const PROVIDER_SET_HELP = `Options for set (each changes only what it names; a new provider needs --base-url and --auth):
  --from <file.json>          start from a whole entry as PUT /providers/<name> takes it
  --base-url <url>            e.g. https://api.acme.com, or https://\${connectionConfig.subdomain}.acme.com
  --display-name <text>       shown on the connect page
  --auth <type>               none, bearer, basic, api_key or oauth2 (a new type starts a fresh auth)
  --api-key-in <where>        api_key: header or query
  --api-key-name <name>       api_key: the header or query parameter name
  --api-key-prefix <text>     api_key: put before the key (e.g. "Token ")
  --token-url <url>           oauth2: token endpoint
  --authorization-url <url>   oauth2: where the end user consents
  --grant <grant>             oauth2: authorization_code (default) or client_credentials
  --scopes <a,b,…>            oauth2: scopes to ask for (comma-separated)
  --header 'Name: value'      a header sent on every call (repeatable; replaces the entry's headers)
  --allowed-origin <origin>   another origin the credentials may go to (repeatable; replaces them)
  --client-id <id>            oauth2: the app's OAuth client at this provider (connect uses it)
  --client-secret-stdin       read the client secret from stdin (else $FERRY_OAUTH_CLIENT_SECRET;
                              never from argv, where shell history and ps would keep it)`;

const AUTH_TYPES = ['none', 'bearer', 'basic', 'api_key', 'oauth2'] as const;
const oneOf = (flag: string, values: readonly string[]) => ({ error: `--${flag} must be one of ${values.join(', ')}` });

const SetFlagsSchema = z.object({
  'base-url': z.string().min(1, '--base-url must not be empty').optional(),
  'display-name': z.string().min(1, '--display-name must not be empty').optional(),
  auth: z.enum(AUTH_TYPES, oneOf('auth', AUTH_TYPES)).optional(),
  'api-key-in': z.enum(['header', 'query'], oneOf('api-key-in', ['header', 'query'])).optional(),
  'api-key-name': z.string().min(1, '--api-key-name must not be empty').optional(),
  'api-key-prefix': z.string().optional(),
  'token-url': z.url({ error: '--token-url must be an absolute URL' }).optional(),
  'authorization-url': z.url({ error: '--authorization-url must be an absolute URL' }).optional(),
  grant: z.enum(['authorization_code', 'client_credentials'], oneOf('grant', ['authorization_code', 'client_credentials'])).optional(),
  scopes: z.string().optional(),
  header: z.array(z.string().regex(/^[^:]+:/, "--header must look like 'Name: value'")).optional(),
  'allowed-origin': z.array(z.string()).optional(),
  'client-id': z.string().min(1, '--client-id must not be empty').optional(),
});
type SetFlags = z.infer<typeof SetFlagsSchema>;

/** Flags that change the provider entry itself (the OAuth client is stored apart from it). */
const ENTRY_FLAGS = ['from', 'base-url', 'display-name', 'auth', 'api-key-in', 'api-key-name', 'api-key-prefix', 'token-url', 'authorization-url', 'grant', 'scopes', 'header', 'allowed-origin'] as const;

/** Which flag sets each field of the entry, to name it when the host's schema refuses the result. */
const FLAG_OF_PATH: Record<string, string> = {
  base_url: '--base-url', display_name: '--display-name', 'auth.type': '--auth', auth: '--auth', 'auth.in': '--api-key-in', 'auth.name': '--api-key-name',
  'auth.prefix': '--api-key-prefix', 'auth.token_url': '--token-url', 'auth.authorization_url': '--authorization-url', 'auth.grant': '--grant',
  'auth.scopes': '--scopes', headers: '--header', allowed_origins: '--allowed-origin',
};

export function flagForPath(path: ReadonlyArray<PropertyKey>): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const flag = FLAG_OF_PATH[path.slice(0, n).map(String).join('.')];
    if (flag) return flag;
  }
  return undefined;
}

export function changesEntry(values: Record<string, unknown>): boolean {
  return ENTRY_FLAGS.some((flag) => values[flag] !== undefined);
}

export function parseSetFlags(values: Record<string, unknown>): SetFlags {
  if (values['client-secret'] !== undefined) {
    throw new UsageError('--client-secret is not taken on the command line (shell history and ps would keep it): pipe it with --client-secret-stdin, or set FERRY_OAUTH_CLIENT_SECRET');
  }
  const parsed = SetFlagsSchema.safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

export async function readEntryFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--from: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return z.record(z.string(), z.unknown()).parse(JSON.parse(text));
  } catch {
    throw new UsageError(`--from: ${path} must hold a JSON object (a provider entry)`);
  }
}

/**
 * The entry to PUT: `base` (the host's entry, the --from file, or nothing for a new provider) with
 * the flags over it, validated by the host's schema. Without a name the body is what the route takes.
 */
export function buildEntry(name: string, base: Record<string, unknown> | null, flags: SetFlags): Record<string, unknown> {
  if (!base) {
    const missing = [flags['base-url'] === undefined && '--base-url', flags.auth === undefined && '--auth'].filter(Boolean);
    if (missing.length > 0) throw new UsageError(`provider "${name}" does not exist yet: give ${missing.join(' and ')} (or --from <file.json>)`);
  }
  const entry: Record<string, unknown> = { ...base };
  delete entry['name'];
  delete entry['source'];
  const baseAuth = (entry['auth'] ?? {}) as Record<string, unknown>;
  const auth: Record<string, unknown> = flags.auth !== undefined && flags.auth !== baseAuth['type'] ? { type: flags.auth } : { ...baseAuth };
  const set = (target: Record<string, unknown>, key: string, value: unknown) => {
    if (value !== undefined) target[key] = value;
  };
  set(entry, 'base_url', flags['base-url']);
  set(entry, 'display_name', flags['display-name']);
  set(auth, 'in', flags['api-key-in']);
  set(auth, 'name', flags['api-key-name']);
  set(auth, 'prefix', flags['api-key-prefix']);
  set(auth, 'token_url', flags['token-url']);
  set(auth, 'authorization_url', flags['authorization-url']);
  set(auth, 'grant', flags.grant);
  set(auth, 'scopes', flags.scopes?.split(',').map((s) => s.trim()).filter(Boolean));
  if (Object.keys(auth).length > 0) entry['auth'] = auth;
  if (flags.header) entry['headers'] = Object.fromEntries(flags.header.map((h) => [h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim()]));
  set(entry, 'allowed_origins', flags['allowed-origin']);
  const checked = ProviderSchema.safeParse({ ...entry, name });
  if (!checked.success) {
    throw new UsageError(checked.error.issues.map((i) => {
      const flag = flagForPath(i.path);
      const where = i.path.length > 0 ? i.path.join('.') : 'entry';
      return flag ? `${flag}: ${i.message} (${where})` : `${where}: ${i.message}`;
    }).join('; '));
  }
  return entry;
}

/** The client secret from stdin (--client-secret-stdin) or $FERRY_OAUTH_CLIENT_SECRET, without a trailing newline. */
export async function readClientSecret(fromStdin: boolean, env: NodeJS.ProcessEnv, stdin: NodeJS.ReadableStream = process.stdin): Promise<string | undefined> {
  if (!fromStdin) return env['FERRY_OAUTH_CLIENT_SECRET'] || undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!secret) throw new UsageError('--client-secret-stdin: stdin was empty (pipe the secret in: printf %s "$SECRET" | ferry providers set …)');
  return secret;
}
