/** `ferry dryrun`: run one script locally against a real connection, saving nothing. */
import { createLogger } from '../../host/logger.ts';
import type { Usage } from '../../runtime/contract.ts';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { dryRun, type DryRunResult } from '../dryrun.ts';
import { EXIT } from '../exit-codes.ts';
import { createOutput, type Output } from '../output.ts';
import { formatTable } from '../table.ts';

const help = `Usage: ferry dryrun <sync-or-action> --connection <id> [--input <json>] [--full] [options]

Bundles the script and runs it in a local isolate. HTTP calls go through the host's proxy for
the connection (credentials stay on the host); records are printed, not saved.

Options:
  --connection <id>  connection to run against (required)
  --input <json>     action input, as JSON (required for actions)
  --full             ignore the last sync date: read everything
  --dir <path>       scripts directory (default: scripts)
  --limit <n>        records printed per model (default 20; --json prints all)
${HOST_OPTIONS_HELP}

Exit codes: 0 ran successfully, 1 the script failed, 2 usage, 3 a script did not bundle,
            4 host unreachable or failing, 5 key refused`;

function formatUsage(usage: Usage): string {
  return `wall ${Math.round(usage.wallMs)} ms, CPU ${Math.round(usage.cpuMs)} ms, peak heap ${(usage.peakHeapBytes / 1024 / 1024).toFixed(1)} MB, ${usage.proxyCalls} proxy call(s)`;
}

function printResult(out: Output, run: DryRunResult, limit: number): void {
  for (const [model, records] of run.models) {
    const rows = [...records.records.entries()].slice(0, limit).map(([id, data]) => ({ id, ...(data as object) }));
    out.line(`\n${model}: ${records.records.size} record(s) (${records.saved} saved, ${records.updated} updated, ${records.deleted} deleted, ${records.rejected.length} rejected)`);
    if (rows.length > 0) out.line(formatTable(rows, { columns: Object.keys(rows[0] as object).slice(0, 6) }));
    if (records.records.size > rows.length) out.line(`… ${records.records.size - rows.length} more`);
    for (const rejected of records.rejected.slice(0, limit)) out.line(`  rejected ${rejected.id ?? '(no id)'}: ${rejected.reason}`);
  }
  if (run.result.ok && run.script.kind === 'action') out.line(`\nOutput:\n${JSON.stringify(run.result.output, null, 2)}`);
  for (const write of run.stateWrites) out.line(`(not saved) ${write.kind}: ${JSON.stringify(write.value)}`);
  out.line(`\n${run.result.ok ? 'Succeeded' : 'Failed'}: ${formatUsage(run.result.usage)}`);
  if (!run.result.ok) {
    const { kind, code, message, stack } = run.result.error;
    out.error(`${kind}/${code}: ${message}`);
    if (stack) out.note(stack);
  }
}

function jsonResult(run: DryRunResult) {
  return {
    ok: run.result.ok,
    script: { name: run.script.name, provider: run.script.provider, kind: run.script.kind },
    lastSyncDate: run.lastSyncDate,
    ...(run.result.ok ? { output: run.result.output } : { error: run.result.error }),
    models: Object.fromEntries(
      [...run.models].map(([model, r]) => [model, { count: r.records.size, saved: r.saved, updated: r.updated, deleted: r.deleted, rejected: r.rejected, records: [...r.records.values()] }]),
    ),
    stateWrites: run.stateWrites,
    logs: run.result.logs,
    usage: run.result.usage,
  };
}

export const dryrunCommand: Command = {
  name: 'dryrun',
  summary: 'run a sync or action locally against a connection, saving nothing',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...HOST_OPTIONS,
      connection: { type: 'string' },
      input: { type: 'string' },
      full: { type: 'boolean', default: false },
      dir: { type: 'string', default: 'scripts' },
      limit: { type: 'string', default: '20' },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.note(help);
      return EXIT.OK;
    }
    try {
      const [name, ...extra] = positionals;
      if (!name || extra.length > 0) throw new UsageError('give exactly one script name: ferry dryrun <name> --connection <id>');
      if (!values.connection) throw new UsageError('--connection <id> is required');
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--limit must be a non-negative integer');
      let input: unknown;
      if (values.input !== undefined) {
        try {
          input = JSON.parse(values.input);
        } catch (error) {
          throw new UsageError(`--input is not valid JSON: ${(error as Error).message}`);
        }
      }
      const run = await dryRun({
        name,
        connectionId: values.connection,
        ...(input !== undefined && { input }),
        full: values.full,
        dir: values.dir,
        ...hostFrom(values, env),
        logger: createLogger({ name: 'ferry-cli', level: env['FERRY_LOG_LEVEL'] ?? 'silent' }),
        onLog(entries) {
          if (out.jsonMode) return;
          for (const entry of entries) out.note(`${entry.at.slice(11, 23)} ${entry.level.padEnd(5)} ${entry.message}`);
        },
      });
      if (out.jsonMode) out.json(jsonResult(run));
      else printResult(out, run, limit);
      return run.result.ok ? EXIT.OK : EXIT.FAILED;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
