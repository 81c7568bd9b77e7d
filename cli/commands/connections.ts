/** `ferry connections`: list, show, create, update and delete connections, and read or write their metadata. */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';

const help = `Usage: ferry connections [subcommand] [options]

Subcommands:
  list                                 every connection of the environment (the default)
  get <id>                             one connection (credentials are never shown)
  create <id> --provider <name>        create (or replace) a connection
  update <id>                          change credentials, config or metadata
  delete <id>                          delete a connection and its records
  metadata <id> [--set JSON|--merge JSON]   show, replace or merge metadata

Options for create/update:
  --provider <name>          provider catalog entry (create only)
  --credentials <json|@file> e.g. '{"type":"api_key","apiKey":"…"}'; @file reads a JSON file
                             (keeps secrets out of shell history)
  --config <json>            connection_config object
  --metadata <json>          metadata object
${HOST_OPTIONS_HELP}

Exit codes: 0 done, 1 refused by the host, 2 usage, 4 host unreachable or failing, 5 key refused`;

const ConnectionSchema = z.object({
  connection_id: z.string(),
  provider: z.string(),
  connection_config: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  auth_status: z.string(),
  auth_error: z.string().nullable().optional(),
  created_at: z.string(),
});
const ObjectSchema = z.record(z.string(), z.unknown());

async function jsonOption(value: string | undefined, what: string): Promise<Record<string, unknown> | undefined> {
  if (value === undefined) return undefined;
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return ObjectSchema.parse(JSON.parse(text));
  } catch {
    throw new UsageError(`--${what} must be a JSON object${value.startsWith('@') ? ` (in ${value.slice(1)})` : ''}`);
  }
}

export const connectionsCommand: Command = {
  name: 'connections',
  summary: 'list, create, update and delete connections; read and write their metadata',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...HOST_OPTIONS,
      provider: { type: 'string' },
      credentials: { type: 'string' },
      config: { type: 'string' },
      metadata: { type: 'string' },
      set: { type: 'string' },
      merge: { type: 'string' },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      const [sub, id, ...extra] = positionals;
      if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
      const client = createHostClient(hostFrom(values, env));
      const needId = () => {
        if (!id) throw new UsageError(`connections ${sub} needs a connection id`);
        return encodeURIComponent(id);
      };
      const show = (c: z.infer<typeof ConnectionSchema>) => {
        out.line(`${c.connection_id}  provider=${c.provider}  auth=${c.auth_status}${c.auth_error ? ` (${c.auth_error})` : ''}`);
        out.line(`  config:   ${JSON.stringify(c.connection_config)}`);
        out.line(`  metadata: ${JSON.stringify(c.metadata)}`);
        out.json(c);
      };
      switch (sub ?? 'list') {
        case 'list': {
          const { connections } = await client.request('GET', '/connections', z.object({ connections: z.array(ConnectionSchema) }));
          for (const c of connections) out.line(`${c.connection_id.padEnd(30)} ${c.provider.padEnd(16)} ${c.auth_status}`);
          if (connections.length === 0) out.line('No connections.');
          out.json({ connections });
          return EXIT.OK;
        }
        case 'get':
          show(await client.request('GET', `/connections/${needId()}`, ConnectionSchema));
          return EXIT.OK;
        case 'create': {
          if (!id) throw new UsageError('connections create needs a connection id');
          if (!values.provider) throw new UsageError('connections create needs --provider');
          const body = {
            connection_id: id, provider: values.provider,
            ...(values.credentials !== undefined && { credentials: await jsonOption(values.credentials, 'credentials') }),
            ...(values.config !== undefined && { connection_config: await jsonOption(values.config, 'config') }),
            ...(values.metadata !== undefined && { metadata: await jsonOption(values.metadata, 'metadata') }),
          };
          show(await client.request('POST', '/connections', ConnectionSchema, body));
          return EXIT.OK;
        }
        case 'update': {
          const path = `/connections/${needId()}`;
          const body = {
            ...(values.credentials !== undefined && { credentials: await jsonOption(values.credentials, 'credentials') }),
            ...(values.config !== undefined && { connection_config: await jsonOption(values.config, 'config') }),
            ...(values.metadata !== undefined && { metadata: await jsonOption(values.metadata, 'metadata') }),
          };
          if (Object.keys(body).length === 0) throw new UsageError('connections update needs --credentials, --config or --metadata');
          show(await client.request('PATCH', path, ConnectionSchema, body));
          return EXIT.OK;
        }
        case 'delete':
          await client.request('DELETE', `/connections/${needId()}`, z.unknown());
          out.line(`Deleted ${id}.`);
          out.json({ ok: true });
          return EXIT.OK;
        case 'metadata': {
          const path = `/connections/${needId()}/metadata`;
          if (values.set !== undefined && values.merge !== undefined) throw new UsageError('use --set or --merge, not both');
          const metadata = values.set !== undefined
            ? await client.request('PUT', path, ObjectSchema, await jsonOption(values.set, 'set'))
            : values.merge !== undefined
              ? await client.request('PATCH', path, ObjectSchema, await jsonOption(values.merge, 'merge'))
              : await client.request('GET', path, ObjectSchema);
          out.line(JSON.stringify(metadata, null, 2));
          out.json(metadata);
          return EXIT.OK;
        }
        default:
          throw new UsageError(`unknown subcommand "${sub}"`);
      }
    } catch (error) {
      return reportError(error, out);
    }
  },
};
