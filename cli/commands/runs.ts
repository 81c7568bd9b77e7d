/** `ferry runs`: a connection's recent runs with their counts, usage and errors. */
import { z } from 'zod';
import { SourceLocationSchema } from '@ferry/runtime/contract';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatTable } from '../table.ts';

const help = `Usage: ferry runs --connection <id> [--sync <name>] [--variant <v>] [--limit 20] [options]

Lists the newest runs of a connection (syncs, actions and webhooks), newest first.

Options:
  --connection <id>  connection whose runs to list (required)
  --sync <name>      only this script's runs (name, or provider/name)
  --variant <v>      only this sync variant's runs (base for the default one)
  --limit <n>        how many (default 20, at most 500)
${HOST_OPTIONS_HELP}

Exit codes: 0 listed, 1 refused by the host (unknown connection), 2 usage, 4 host unreachable, 5 key refused`;

export const RunSchema = z.looseObject({
  id: z.string(),
  sync: z.string(),
  variant: z.string().optional(),
  kind: z.string().optional(),
  status: z.string(),
  trigger: z.string().nullable().optional(),
  full: z.boolean().optional(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  counts: z.record(z.string(), z.number().nullable()).nullable().optional(),
  usage: z.looseObject({ wall_ms: z.number().nullable(), cpu_ms: z.number().nullable().optional(), peak_heap_bytes: z.number().nullable() }).nullable().optional(),
  model_counts: z.record(z.string(), z.object({ added: z.number(), updated: z.number(), deleted: z.number() })).nullable().optional(),
  error: z.looseObject({ code: z.string().optional(), message: z.string().optional(), location: SourceLocationSchema.optional().catch(undefined) }).nullable().optional(),
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string() })).optional(),
});
const RunsSchema = z.object({ runs: z.array(RunSchema) });

export const runsCommand: Command = {
  name: 'runs',
  summary: "list a connection's recent runs with counts and usage",
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...HOST_OPTIONS,
      connection: { type: 'string' },
      sync: { type: 'string' },
      variant: { type: 'string' },
      limit: { type: 'string', default: '20' },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 0) throw new UsageError(`runs takes no arguments (got ${positionals.join(' ')})`);
      if (!values.connection) throw new UsageError('--connection <id> is required');
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be an integer from 1 to 500');
      const query = new URLSearchParams({ connection_id: values.connection, limit: String(limit), ...(values.sync && { sync: values.sync }), ...(values.variant && { variant: values.variant }) });
      const { runs } = await createHostClient(hostFrom(values, env)).request('GET', `/runs?${query}`, RunsSchema);
      out.json({ ok: true, runs });
      if (runs.length === 0) {
        out.line(`No runs yet for ${values.connection}${values.sync ? ` and ${values.sync}` : ''}.`);
        return EXIT.OK;
      }
      const rows = runs.map((r) => ({
        id: r.id,
        // A sync variant other than base is named beside its sync.
        script: r.variant && r.variant !== 'base' ? `${r.sync} (${r.variant})` : r.sync,
        status: r.status,
        trigger: `${r.trigger ?? ''}${r.full ? ' (full)' : ''}`,
        started: r.started_at?.replace('T', ' ').slice(0, 19) ?? '',
        wall: r.usage?.wall_ms == null ? '' : `${(r.usage.wall_ms / 1000).toFixed(1)} s`,
        'added/upd/del': r.counts ? `${r.counts['added'] ?? 0}/${r.counts['updated'] ?? 0}/${r.counts['deleted'] ?? 0}` : '',
        'peak heap': r.usage?.peak_heap_bytes == null ? '' : `${(r.usage.peak_heap_bytes / 1024 / 1024).toFixed(1)} MB`,
        error: r.error ? `${r.error.code ?? ''} ${r.error.message ?? ''}`.trim() : (r.warnings ?? []).map((w) => `warning ${w.code}`).join(', '),
      }));
      out.line(formatTable(rows, { maxWidth: 48 }));
      // Warnings of runs that succeeded (deletes held by the mass-delete guard) in full, under the table.
      for (const r of runs) for (const w of r.warnings ?? []) out.line(`warning: run ${r.id} ${w.code}: ${w.message}`);
      out.line(`\nLogs of a run: ferry logs <id>${runs.some((r) => r.status === 'running') ? ' --follow' : ''}`);
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
