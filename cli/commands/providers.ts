/** `ferry providers`: list the providers configured on the host, show one, create or change one (and its OAuth client), delete one. */
import { z } from 'zod';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient, HostApiError, type HostClient } from '../host-client.ts';
import { createOutput, type Output } from '../output.ts';
import { buildEntry, changesEntry, flagForPath, parseSetFlags, PROVIDER_SET_HELP, PROVIDER_SET_OPTIONS, readClientSecret, readEntryFile } from '../provider-flags.ts';
import { formatTable } from '../table.ts';

const help = `Usage: ferry providers [list | show <name> | set <name> [flags] | delete <name>] [options]

  list (default)   the providers configured on the host: name, base URL, auth type, pagination
                   and rate limit (built-in catalog entries and the environment's own)
  show <name>      one provider's whole configuration (OAuth client secrets are never returned;
                   \`ferry providers <name>\` is the same)
  set <name>       create or change the environment's entry (PUT /providers/<name>) and, with
                   --client-id, the app's OAuth client at it (PUT /providers/<name>/oauth-client)
  delete <name>    remove the environment's entry (a built-in one comes back in its place)

${PROVIDER_SET_HELP}

Options:
${HOST_OPTIONS_HELP}

Examples:
  ferry providers set acme --base-url https://api.acme.com --auth bearer
  ferry providers set acme --header 'Acme-Version: 2024-01-01'
  printf %s "$SECRET" | ferry providers set acme --auth oauth2 --token-url https://acme.com/oauth/token \\
      --authorization-url https://acme.com/oauth/authorize --scopes read,write --client-id abc --client-secret-stdin

Exit codes: 0 done, 1 refused by the host (unknown provider), 2 usage (a bad flag is named),
            4 host unreachable, 5 key refused`;

const ProviderSchema = z.looseObject({
  name: z.string(),
  base_url: z.string().nullish(),
  auth: z.looseObject({ type: z.string() }).nullish(),
  pagination: z.unknown().optional(),
  rate_limit: z.unknown().optional(),
});
type ShownProvider = z.infer<typeof ProviderSchema>;

const OAuthClientAnswer = z.object({ provider: z.string(), client_id: z.string(), redirect_uri: z.string() });
const SUBCOMMANDS = new Set(['list', 'show', 'set', 'delete']);

async function list(client: HostClient, out: Output) {
  const { providers } = await client.request('GET', '/providers', z.object({ providers: z.array(ProviderSchema) }));
  out.json({ providers });
  if (providers.length === 0) {
    out.line('No providers configured (ferry providers set <name> …, or ferry dev --demo for the demo ones).');
    return EXIT.OK;
  }
  out.line(formatTable(providers.map((p) => ({
    name: p.name,
    base_url: p.base_url ?? '',
    auth: p.auth?.type ?? '',
    pagination: p.pagination ? (p.pagination as { type?: string }).type ?? 'yes' : '',
    rate_limit: p.rate_limit ? 'yes' : '',
  })), { maxWidth: 48 }));
  return EXIT.OK;
}

/** The host's entry for `name`, or null when it has none (a new provider). */
async function current(client: HostClient, name: string): Promise<ShownProvider | null> {
  try {
    return await client.request('GET', `/providers/${encodeURIComponent(name)}`, ProviderSchema);
  } catch (error) {
    if (error instanceof HostApiError && error.status === 404) return null;
    throw error;
  }
}

/** A host refusal of the entry, with each issue named by the flag that set that field. */
function nameFlags(error: unknown): unknown {
  if (!(error instanceof HostApiError) || error.status !== 400 || !error.issues) return error;
  const issues = error.issues.map((issue) => {
    const path = (issue as { path?: unknown }).path;
    const flag = Array.isArray(path) ? flagForPath(path[0] === 'body' ? path.slice(1) : path) : undefined;
    return flag ? { flag, ...(issue as object) } : issue;
  });
  return new HostApiError(error.status, error.code, error.message, issues);
}

async function set(client: HostClient, out: Output, name: string, values: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  const flags = parseSetFlags(values);
  const secretFromStdin = values['client-secret-stdin'] === true;
  if (secretFromStdin && flags['client-id'] === undefined) throw new UsageError('--client-secret-stdin needs --client-id (the secret belongs to that OAuth client)');
  if (!changesEntry(values) && flags['client-id'] === undefined) {
    throw new UsageError(`set ${name} changes nothing: give a flag (--base-url, --auth, … or --client-id; see --help)`);
  }
  // Read the secret before any write, so a missing one changes nothing.
  const secret = flags['client-id'] === undefined ? undefined : await readClientSecret(secretFromStdin, env);
  let entry: Record<string, unknown> | null = null;
  if (changesEntry(values)) {
    const base = typeof values['from'] === 'string' ? await readEntryFile(values['from']) : await current(client, name);
    const body = buildEntry(name, base, flags);
    try {
      entry = await client.request('PUT', `/providers/${encodeURIComponent(name)}`, ProviderSchema, body);
    } catch (error) {
      throw nameFlags(error);
    }
    out.line(`Provider ${name} saved: ${String(entry['base_url'])}, auth ${(entry['auth'] as { type?: string } | undefined)?.type ?? '?'}.`);
  }
  let oauthClient: z.infer<typeof OAuthClientAnswer> | null = null;
  if (flags['client-id'] !== undefined) {
    const body = { client_id: flags['client-id'], ...(secret !== undefined && { client_secret: secret }) };
    oauthClient = await client.request('PUT', `/providers/${encodeURIComponent(name)}/oauth-client`, OAuthClientAnswer, body);
    out.line(`OAuth client ${oauthClient.client_id} saved for ${name} (${secret === undefined ? 'no secret: a public client' : 'secret stored encrypted'}).`);
    out.line(`Register this redirect URI at the provider: ${oauthClient.redirect_uri}`);
  }
  out.json({ ok: true, provider: entry, oauth_client: oauthClient && { ...oauthClient, has_secret: secret !== undefined } });
  return EXIT.OK;
}

export const providersCommand: Command = {
  name: 'providers',
  summary: 'list, show, create or change (set) and delete providers',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, { ...HOST_OPTIONS, ...PROVIDER_SET_OPTIONS });
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      // `ferry providers <name>` (no subcommand) shows that provider, as before subcommands existed.
      const [first, ...rest] = positionals;
      const [sub, args] = first === undefined ? ['list', []] : SUBCOMMANDS.has(first) ? [first, rest] : ['show', positionals];
      if (sub !== 'set' && (changesEntry(values) || values['client-id'] !== undefined || values['client-secret'] !== undefined || values['client-secret-stdin'])) {
        throw new UsageError('provider flags (--base-url, --auth, --client-id, …) belong to ferry providers set <name>');
      }
      if (sub === 'list') {
        if (args.length > 0) throw new UsageError(`list takes no arguments (got ${args.join(' ')})`);
        return await list(createHostClient(hostFrom(values, env)), out);
      }
      const [name, ...extra] = args;
      if (!name || extra.length > 0) throw new UsageError(`name one provider: ferry providers ${sub} <name>`);
      const client = createHostClient(hostFrom(values, env));
      if (sub === 'show') {
        const provider = await client.request('GET', `/providers/${encodeURIComponent(name)}`, ProviderSchema);
        out.json(provider);
        out.line(JSON.stringify(provider, null, 2));
        return EXIT.OK;
      }
      if (sub === 'delete') {
        await client.request('DELETE', `/providers/${encodeURIComponent(name)}`, z.unknown());
        out.line(`Deleted provider ${name}.`);
        out.json({ ok: true });
        return EXIT.OK;
      }
      return await set(client, out, name, values, env);
    } catch (error) {
      return reportError(error, out);
    }
  },
};
