/** `ferry variants <sync> --connection <id> [--add <v> [--frequency F] | --remove <v>]`: a sync's variants on a connection. */
import { z } from 'zod';
import { HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, SYNC_CONNECTION_OPTIONS, syncAndConnection, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatTable } from '../table.ts';

const help = `Usage: ferry variants <sync> --connection <id> [--add <variant> [--frequency <schedule>] | --remove <variant>] [options]

A sync may run as several independent copies on one connection (a mailbox, a repo, …): each
variant has its own schedule, lastSyncDate, checkpoint and records, and its runs read the
variant's name as nango.variant. Every connection has the 'base' variant. Without --add/--remove
this lists the variants; --add creates one (it runs at once unless the sync does not auto-start);
--remove deletes one: its state goes and its records are marked deleted.
Read a variant's records with GET /records?variant=<variant>; run it now with
ferry trigger <sync> --variant <variant>.

Options:
  -c, --connection <id>   the connection
  --add <variant>         add this variant
  --frequency <schedule>  with --add: its own schedule ("every 15 minutes", a cron expression)
  --remove <variant>      remove this variant and mark its records deleted
${HOST_OPTIONS_HELP}

Exit codes: 0 done, 1 refused by the host (e.g. the variant exists, or is base), 2 usage,
            4 host unreachable, 5 key refused`;

const Variant = z.object({
  variant: z.string(), paused: z.boolean(), schedule: z.string().nullable(), schedule_override: z.string().nullable(),
  next_run_at: z.string(), last_sync_date: z.string().nullable(),
});
const Listed = z.object({ variants: z.array(Variant) });
const Removed = z.object({ deleted_records: z.number() });

const when = (iso: string | null) => (iso === null ? '-' : iso.replace('T', ' ').slice(0, 19));

export const variantsCommand: Command = {
  name: 'variants',
  summary: "list, add or remove a sync's variants on a connection",
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...SYNC_CONNECTION_OPTIONS,
      add: { type: 'string' },
      frequency: { type: 'string' },
      remove: { type: 'string' },
    });
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      const { sync, connection: connectionId } = syncAndConnection(positionals, values.connection);
      if (values.add && values.remove) throw new UsageError('--add and --remove exclude each other');
      if (values.frequency && !values.add) throw new UsageError('--frequency goes with --add');
      const client = createHostClient(hostFrom(values, env));
      const path = `/syncs/${encodeURIComponent(sync)}/variants`;
      const connection = new URLSearchParams({ connection_id: connectionId });
      if (values.add) {
        const added = await client.request('POST', path, Variant, {
          connection_id: connectionId, variant: values.add, ...(values.frequency && { frequency: values.frequency }),
        });
        out.json({ ok: true, sync, connection_id: connectionId, ...added });
        out.line(`Variant ${added.variant} of ${sync} added for ${connectionId}; ${added.paused ? 'paused (the sync does not auto-start)' : `first run due ${when(added.next_run_at)}`}.`);
        return EXIT.OK;
      }
      if (values.remove) {
        const { deleted_records } = await client.request('DELETE', `${path}/${encodeURIComponent(values.remove)}?${connection}`, Removed);
        out.json({ ok: true, sync, connection_id: connectionId, variant: values.remove, deleted_records });
        out.line(`Variant ${values.remove} of ${sync} removed for ${connectionId}; ${deleted_records} record(s) marked deleted.`);
        return EXIT.OK;
      }
      const { variants } = await client.request('GET', `${path}?${connection}`, Listed);
      out.json({ ok: true, sync, connection_id: connectionId, variants });
      out.line(formatTable(variants.map((v) => ({
        variant: v.variant, schedule: v.schedule_override ?? v.schedule ?? '-', paused: v.paused ? 'yes' : 'no',
        'last sync': when(v.last_sync_date), 'next run': when(v.next_run_at),
      }))));
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
