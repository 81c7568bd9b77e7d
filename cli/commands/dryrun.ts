/** `ferry dryrun`: run one script locally against a real connection, saving nothing. */
import { readFile } from 'node:fs/promises';
import { createLogger } from '@ferry/host/logger';
import { formatLocation, type Usage } from '@ferry/runtime/contract';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import type { ModelRecords } from '../collect.ts';
import { dryRun, type DryRunResult } from '../dryrun.ts';
import { EXIT } from '../exit-codes.ts';
import { createOutput, type Output } from '../output.ts';
import { formatTable } from '../table.ts';
import { defaultScriptsDir } from '../scripts-dir.ts';

const help = `Usage: ferry dryrun <sync-or-action> --connection <id> [--input <json|@file>] [--full] [options]
       ferry dryrun <sync-or-action> <connection-id> [options]   (as nango dryrun takes it)

Bundles the script and runs it in a local isolate. Name it as <provider>/<name> when several
providers have a script of that name. HTTP calls go through the host's proxy for
the connection (credentials stay on the host); records, metadata and checkpoints are printed,
never written. An action's HTTP calls are real: a dryrun of an action changes the provider.

Options:
  --connection <id>    connection to run against (required)
  --input <json|@file> action input, as JSON or @path/to/input.json (required for actions)
  --full               ignore the last sync date and checkpoint: read everything
  --checkpoint <json>  start from this checkpoint instead of the connection's
  --part <key>         a split sync: run only this part, a key (split by keys) or a
                       window's start (split by time; the window holding that instant).
                       A full pass runs every part in turn (a key split lists them with
                       split.partitions first; a time split plans its windows as the host)
  --save               record the provider's responses to <provider>/fixtures/<script>.json
                       (replayed by ferry/testing in your script's tests)
  --save-to <path>     record them to this file instead
  --dir <path>         scripts directory (default: scripts, or . in a Nango project's layout)
  --limit <n>          records printed per model (default 20; --json prints all)
${HOST_OPTIONS_HELP}

Exit codes: 0 ran successfully, 1 the script failed, 2 usage, 3 a script did not bundle,
            4 host unreachable or failing, 5 key refused`;

function formatUsage(usage: Usage): string {
  return `wall ${Math.round(usage.wallMs)} ms, CPU ${Math.round(usage.cpuMs)} ms, peak heap ${(usage.peakHeapBytes / 1024 / 1024).toFixed(1)} MB, ${(usage.bridgeBytes / 1024).toFixed(1)} KB across the bridge, ${usage.proxyCalls} proxy call(s)`;
}

/** Every declared model, then any other the script passed records of, each with what it would have written. */
function modelsOf(run: DryRunResult): Array<[string, ModelRecords | undefined]> {
  const names = [...new Set([...run.declaredModels, ...run.models.keys()])];
  return names.map((name) => [name, run.models.get(name)]);
}

/** A dry run writes nothing: counts say what the script passed to batchSave/batchUpdate/batchDelete. */
function describeModel(model: string, records: ModelRecords | undefined): string {
  if (!records || (records.records.size === 0 && records.deleted === 0 && records.rejected.length === 0)) return `${model}: no records (the script passed none to batchSave, batchUpdate or batchDelete)`;
  const parts = [`${records.saved} via batchSave`, `${records.updated} via batchUpdate`, `${records.deleted} via batchDelete`, `${records.rejected.length} rejected`];
  return `${model}: ${records.records.size} record(s) (${parts.join(', ')}); not written (dry run)`;
}

function printResult(out: Output, run: DryRunResult, limit: number): void {
  if (run.windows) {
    const span = (w: { from: string; to: string | null }) => `[${w.from}, ${w.to ?? 'open'})`;
    out.line(run.partitions?.keys === null || run.partitions === null
      ? `Split by time: ran window ${span(run.windows[0]!)} only`
      : `Split by time: ${run.windows.length} window(s) (${run.windows.slice(0, 3).map(span).join(', ')}${run.windows.length > 3 ? ', …' : ''}); ran ${run.partitions.ran.length} in turn`);
  } else if (run.partitions) {
    const { keys, ran } = run.partitions;
    out.line(keys === null ? `Split by keys: ran part ${JSON.stringify(ran[0])} only` : `Split by keys: ${keys.length} part(s) (${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ', …' : ''}); ran ${ran.length} in turn`);
  }
  for (const [model, records] of modelsOf(run)) {
    out.line(`\n${describeModel(model, records)}`);
    if (!records) continue;
    const rows = [...records.records.entries()].slice(0, limit).map(([id, data]) => ({ id, ...(data as object) }));
    if (records.deletedIds.length > 0) out.line(`  deleted: ${records.deletedIds.slice(0, limit).join(', ')}${records.deletedIds.length > limit ? ', …' : ''}`);
    if (rows.length > 0) out.line(formatTable(rows, { columns: Object.keys(rows[0] as object).slice(0, 6) }));
    if (records.records.size > rows.length) out.line(`… ${records.records.size - rows.length} more`);
    for (const rejected of records.rejected.slice(0, limit)) out.line(`  rejected ${rejected.id ?? '(no id)'}: ${rejected.reason}`);
  }
  if (run.result.ok && run.script.kind === 'action') out.line(`\nOutput:\n${JSON.stringify(run.result.output, null, 2)}`);
  for (const write of run.stateWrites) out.line(`(not written, dry run) ${write.kind}: ${JSON.stringify(write.value)}`);
  if (run.fixturePath) out.line(`\nRecorded the provider's responses to ${run.fixturePath}`);
  out.line(`\n${run.result.ok ? 'Succeeded' : 'Failed'}: ${formatUsage(run.result.usage)}`);
  if (!run.result.ok) {
    const { kind, code, message, stack, location } = run.result.error;
    out.error(`${kind}/${code}: ${message}${location ? ` at ${formatLocation(location)}` : ''}`);
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
      modelsOf(run).map(([model, r]) => [model, { count: r?.records.size ?? 0, saved: r?.saved ?? 0, updated: r?.updated ?? 0, deleted: r?.deleted ?? 0, deletedIds: r?.deletedIds ?? [], rejected: r?.rejected ?? [], records: r ? [...r.records.values()] : [] }]),
    ),
    stateWrites: run.stateWrites,
    fixturePath: run.fixturePath,
    partitions: run.partitions,
    windows: run.windows,
    logs: run.result.logs,
    usage: run.result.usage,
  };
}

/** A JSON option given inline or as `@path` to a file holding it. */
async function parseJsonArg(option: string, value: string): Promise<unknown> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = await readFile(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`${option} ${value}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${option} is not valid JSON: ${(error as Error).message}`);
  }
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
      checkpoint: { type: 'string' },
      part: { type: 'string' },
      save: { type: 'boolean', default: false },
      'save-to': { type: 'string' },
      dir: { type: 'string' },
      limit: { type: 'string', default: '20' },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      // `nango dryrun <name> <connection-id>`: the connection may follow the name, as in Nango.
      const [name, positionalConnection, ...extra] = positionals;
      if (!name || extra.length > 0) throw new UsageError('give exactly one script name: ferry dryrun <name> --connection <id> (or ferry dryrun <name> <connection-id>)');
      if (positionalConnection !== undefined && values.connection !== undefined && positionalConnection !== values.connection) {
        throw new UsageError(`two connections given: ${positionalConnection} and --connection ${values.connection}; give one`);
      }
      const connection = values.connection ?? positionalConnection;
      if (!connection) throw new UsageError('--connection <id> is required (or ferry dryrun <name> <connection-id>, as with nango dryrun)');
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--limit must be a non-negative integer');
      const input = values.input === undefined ? undefined : await parseJsonArg('--input', values.input);
      const checkpoint = values.checkpoint === undefined ? undefined : await parseJsonArg('--checkpoint', values.checkpoint);
      if (checkpoint !== undefined && checkpoint !== null && (typeof checkpoint !== 'object' || Array.isArray(checkpoint))) {
        throw new UsageError('--checkpoint must be a JSON object (or null)');
      }
      const run = await dryRun({
        name,
        connectionId: connection,
        ...(input !== undefined && { input }),
        full: values.full,
        ...(checkpoint !== undefined && { checkpoint: checkpoint as Record<string, unknown> | null }),
        ...(values.part !== undefined && { part: values.part }),
        ...((values.save || values['save-to']) && { save: values['save-to'] ?? true }),
        dir: values.dir ?? defaultScriptsDir(),
        ...hostFrom(values, env),
        onScript(script) {
          // Nothing is saved in Ferry, but what an action sends the provider is real.
          if (script.kind === 'action') out.note(`warning: ${script.name} is an action: its calls reach the provider for real (creates, updates and deletes there happen); only Ferry saves nothing.`);
        },
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
