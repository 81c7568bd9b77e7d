/** `ferry providers`: the providers configured on the host (base URL, auth type), or one in full. */
import { z } from 'zod';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatTable } from '../table.ts';

const help = `Usage: ferry providers [<name>] [options]

Lists the providers configured on the host: name, base URL, auth type, pagination and rate limit.
With a name, prints that provider's whole configuration (no secrets: OAuth client secrets are
never returned). Configure one with PUT /providers/<name> (docs/connections.md).

Options:
${HOST_OPTIONS_HELP}

Exit codes: 0 listed, 1 refused by the host (unknown provider), 2 usage, 4 host unreachable, 5 key refused`;

const ProviderSchema = z.looseObject({
  name: z.string(),
  base_url: z.string().nullish(),
  auth: z.looseObject({ type: z.string() }).nullish(),
  pagination: z.unknown().optional(),
  rate_limit: z.unknown().optional(),
});

export const providersCommand: Command = {
  name: 'providers',
  summary: 'list the providers configured on the host, or show one',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, HOST_OPTIONS);
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 1) throw new UsageError('name at most one provider: ferry providers [<name>]');
      const client = createHostClient(hostFrom(values, env));
      const [name] = positionals;
      if (name !== undefined) {
        const provider = await client.request('GET', `/providers/${encodeURIComponent(name)}`, ProviderSchema);
        out.json(provider);
        out.line(JSON.stringify(provider, null, 2));
        return EXIT.OK;
      }
      const { providers } = await client.request('GET', '/providers', z.object({ providers: z.array(ProviderSchema) }));
      out.json({ providers });
      if (providers.length === 0) {
        out.line('No providers configured (PUT /providers/<name>, or ferry dev --demo for the demo ones).');
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
    } catch (error) {
      return reportError(error, out);
    }
  },
};
