/** `ferry held-deletes <sync> --connection <id> [--variant V] [--apply | --discard] [--model M]`: review the mass-delete guard. */
import { z } from 'zod';
import { HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, SYNC_CONNECTION_OPTIONS, syncAndConnection, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatTable } from '../table.ts';

const help = `Usage: ferry held-deletes <sync> --connection <id> [--variant <v>] [--apply | --discard] [--model <model>] [options]

A pass that would delete every live record of a model (or more than half of one with 200 or
more) holds those deletes instead: the run succeeds with a DELETES_HELD warning. Without
--apply/--discard this lists what is held; --apply deletes them (records saved again since are
kept), --discard keeps the records and forgets the held deletes.

Options:
  -c, --connection <id>  the connection
  --variant <variant>    the sync variant (default base)
  --model <model>        only this model (default: every model of the sync)
  --apply                apply the held deletes
  --discard              discard the held deletes
${HOST_OPTIONS_HELP}

Exit codes: 0 done, 1 refused by the host, 2 usage, 4 host unreachable, 5 key refused`;

const Listed = z.object({ held: z.array(z.object({ model: z.string(), count: z.number(), run_id: z.string(), held_at: z.string() })) });
const Applied = z.object({ applied: z.array(z.object({ model: z.string(), deleted: z.number(), run_id: z.string() })) });
const Discarded = z.object({ discarded: z.number() });

export const heldDeletesCommand: Command = {
  name: 'held-deletes',
  summary: 'list, apply or discard deletes held by the mass-delete guard',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...SYNC_CONNECTION_OPTIONS,
      variant: { type: 'string' },
      model: { type: 'string' },
      apply: { type: 'boolean', default: false },
      discard: { type: 'boolean', default: false },
    });
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      const { sync, connection } = syncAndConnection(positionals, values.connection);
      if (values.apply && values.discard) throw new UsageError('--apply and --discard exclude each other');
      const client = createHostClient(hostFrom(values, env));
      const path = `/syncs/${encodeURIComponent(sync)}/held-deletes`;
      const variant: Record<string, string> = values.variant ? { variant: values.variant } : {};
      const body = { connection_id: connection, ...variant, ...(values.model && { model: values.model }) };
      if (values.apply) {
        const { applied } = await client.request('POST', `${path}/apply`, Applied, body);
        out.json({ ok: true, sync, connection_id: connection, applied });
        out.line(applied.length === 0 ? 'No held deletes to apply.' : applied.map((a) => `${a.model}: ${a.deleted} record(s) deleted`).join('\n'));
        return EXIT.OK;
      }
      if (values.discard) {
        const { discarded } = await client.request('POST', `${path}/discard`, Discarded, body);
        out.json({ ok: true, sync, connection_id: connection, discarded });
        out.line(`${discarded} held delete(s) discarded; the records stay.`);
        return EXIT.OK;
      }
      const { held } = await client.request('GET', `${path}?${new URLSearchParams({ connection_id: connection, ...variant })}`, Listed);
      const shown = held.filter((h) => !values.model || h.model === values.model);
      out.json({ ok: true, sync, connection_id: connection, held: shown });
      if (shown.length === 0) {
        out.line(`No deletes held for ${sync} and ${connection}.`);
        return EXIT.OK;
      }
      out.line(formatTable(shown.map((h) => ({ model: h.model, held: String(h.count), 'by run': h.run_id, since: h.held_at.replace('T', ' ').slice(0, 19) }))));
      out.line(`\nApply: ferry held-deletes ${sync} -c ${connection} --apply   Keep the records: --discard`);
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
