/**
 * `ferry dev`: a whole Ferry on embedded PGlite for local development. It deploys the scripts
 * folder, watches it, and redeploys on save, printing what changed (or why a script did not
 * bundle, without stopping). `--demo` also starts the demo providers with a connection each.
 */
import { resolve } from 'node:path';
import { loadConfig } from '@ferry/host/config';
import { createLogger } from '@ferry/host/logger';
import { BundleError } from '../bundle.ts';
import { HOST_OPTIONS, parseCommandArgs, UsageError, type Command } from '../command.ts';
import { DeployError, deployScripts, type DeployResponse } from '../deploy.ts';
import { acquireDevLock, DevLockedError } from '../dev-lock.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import { hostBanner } from '../host-banner.ts';
import { createOutput, type Output } from '../output.ts';
import { discoverScripts } from '../discover.ts';
import { createHostClient } from '../host-client.ts';
import { formatRunLine, watchRuns } from '../run-lines.ts';
import { formatDiagnostic, typeCheckScripts } from '../typecheck.ts';
import { scriptsSnapshot, watchScripts } from '../watch.ts';
import { defaultScriptsDir } from '../scripts-dir.ts';

const help = `Usage: ferry dev [--dir scripts] [--port 3003] [--data-dir .ferry] [--demo] [--json]

Starts Ferry (API, scheduler and runtime) on an embedded PGlite database, deploys every script
under --dir, and on every save (editors' atomic saves, renames, new folders) type-checks and
redeploys; a type error is printed at file:line:col and not deployed. Each finished run prints
one line: counts, wall time, peak memory, or its error and where. Stops on Ctrl-C.

Options:
  --dir <path>       scripts directory (default: scripts, or . in a Nango project's layout)
  --port <n>         API port (default: $FERRY_PORT or 3003; 0 picks a free port)
  --data-dir <path>  where the embedded database and dev key live (default: $FERRY_DATA_DIR or .ferry)
  --demo             also start the demo providers (CRM, helpdesk, billing, chat) and connect them
  --json             print one JSON event per line (ready, deployed, deploy_failed, watching,
                     typecheck_failed, run) on stdout
  -h, --help         show this help

Other commands run in this folder find this dev host (its URL and key) without flags.

Exit codes: 0 stopped cleanly, 2 usage, 4 the host could not start, 7 busy: the port is in use,
            or another ferry dev holds the data folder`;

function printDeploy(out: Output, result: DeployResponse, first: boolean): void {
  const changes = result.scripts.filter((s) => s.status !== 'unchanged');
  out.jsonLine({ event: 'deployed', version: result.version, scripts: result.scripts });
  if (out.jsonMode) return;
  if (changes.length === 0 && !first) {
    out.line('No script changed.');
    return;
  }
  // The first deploy lists every script (even unchanged ones from a previous session); later ones only what changed.
  const shown = first ? result.scripts : changes;
  out.line(`Deployed version ${result.version}:`);
  for (const s of shown) out.line(`  ${s.status.padEnd(9)} ${s.kind.padEnd(6)} ${s.name}`);
}

/** Type-checks every script as `ferry compile` does; prints each error at file:line:col. False when there are errors. */
async function typeChecks(out: Output, dir: string): Promise<boolean> {
  const scripts = await discoverScripts(dir);
  if (scripts.length === 0) return true;
  const result = await typeCheckScripts(scripts.map((s) => s.entryPath));
  if (!result.ran || result.diagnostics.length === 0) return true;
  for (const d of result.diagnostics) out.error(formatDiagnostic(d));
  out.jsonLine({ event: 'typecheck_failed', diagnostics: result.diagnostics });
  out.note(`${result.diagnostics.length} type error(s): not deployed. Fix and save again; the previous version keeps running.`);
  return false;
}

function printDeployFailure(out: Output, error: unknown): void {
  if (error instanceof DeployError) {
    out.error(error.message);
    for (const { error: cause } of error.failures) out.note(cause.message);
    out.jsonLine({ event: 'deploy_failed', code: error.code, message: error.message, failures: error.failures.map((f) => ({ name: f.script.name, details: f.error.details })) });
  } else if (error instanceof BundleError || error instanceof Error) {
    out.error(error.message);
    out.jsonLine({ event: 'deploy_failed', code: 'DEPLOY_FAILED', message: error.message });
  }
  // No scripts yet (a new folder) is nothing to fix, and there is no previous version.
  const noScripts = error instanceof DeployError && error.code === 'NO_SCRIPTS';
  out.note(noScripts
    ? 'Add one there (`npx ferry init` writes an example sync and action); it is deployed when saved.'
    : 'Fix the script and save again; the previous version keeps running.');
}

export const devCommand: Command = {
  name: 'dev',
  summary: 'run Ferry locally on embedded PGlite, redeploying scripts on save',
  help,
  async run(argv, env): Promise<ExitCode> {
    const { values, positionals } = parseCommandArgs(argv, {
      json: HOST_OPTIONS.json,
      help: HOST_OPTIONS.help,
      dir: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      demo: { type: 'boolean', default: false },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError(`dev takes no arguments (got ${positionals.join(' ')})`);
    const dir = resolve(values.dir ?? defaultScriptsDir());
    let config;
    try {
      // Always embedded: dev never touches the Postgres a DATABASE_URL in the shell points at.
      config = loadConfig({ ...env, DATABASE_URL: undefined, ...(values.port !== undefined && { FERRY_PORT: values.port }), ...(values['data-dir'] !== undefined && { FERRY_DATA_DIR: values['data-dir'] }) });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const logger = createLogger({ name: 'ferry-dev', level: env['FERRY_LOG_LEVEL'] ?? 'warn', destination: process.stderr });
    let lock;
    try {
      lock = acquireDevLock(resolve(config.FERRY_DATA_DIR));
    } catch (error) {
      if (!(error instanceof DevLockedError)) throw error;
      out.error(error.message);
      return EXIT.BUSY;
    }
    const { startFerry, guardProcessFaults } = await import('@ferry/host');
    guardProcessFaults(logger);
    let host;
    try {
      host = await startFerry(config, logger);
    } catch (error) {
      lock.release();
      out.error(`Ferry could not start: ${(error as Error).message}`);
      return (error as { code?: unknown }).code === 'PORT_IN_USE' ? EXIT.BUSY : EXIT.HOST;
    }
    const url = host.url as string;
    lock.announce(url);
    const deployOnce = () => deployScripts({ dir, url, key: host.secretKey });
    let demo: { close(): Promise<void> } | null = null;

    out.jsonLine({ event: 'ready', url, key: host.secretKey, dir, data_dir: config.FERRY_DATA_DIR });
    out.line(hostBanner('Ferry dev', host, url, config.FERRY_DATA_DIR).join('\n'));
    // What the first deploy is about to read: a save after this is the watcher's (watch.ts).
    const deployedFiles = await scriptsSnapshot(dir);
    try {
      // The demo deploys the folder before it connects (its syncs must exist for their first
      // runs): that deploy is the one to report, or a fresh host's first lists every script as
      // "unchanged".
      let firstDeploy: DeployResponse | null = null;
      if (values.demo) {
        const { setUpDemo, demoConnectionId } = await import('@ferry/host');
        const { DEMO_PROVIDERS } = await import('@ferry/demo');
        demo = await setUpDemo({ url, secretKey: host.secretKey, logger, scriptsDir: dir, deploy: async () => (firstDeploy = await deployOnce()) });
        out.line(`Demo providers connected: ${DEMO_PROVIDERS.map((p) => demoConnectionId(p)).join(', ')}`);
      }
      printDeploy(out, firstDeploy ?? (await deployOnce()), true);
    } catch (error) {
      printDeployFailure(out, error);
    }
    const watcher = watchScripts(dir, async (files) => {
      if (!out.jsonMode) out.line(`\nChanged: ${files.join(', ')}`);
      try {
        // A type error is reported and not deployed: the previous version keeps running.
        if (!(await typeChecks(out, dir))) return;
        printDeploy(out, await deployOnce(), false);
      } catch (error) {
        printDeployFailure(out, error);
      }
    }, { since: deployedFiles });
    await watcher.ready;
    // Only now: a save from here on is seen (one since the first deploy read the folder is already queued).
    out.jsonLine({ event: 'watching', dir });
    out.line(`Watching ${dir} — save a script to redeploy. Ctrl-C to stop.`);
    const runs = watchRuns(createHostClient({ url, key: host.secretKey }), (run, connectionId) => {
      out.jsonLine({ event: 'run', connection_id: connectionId, run });
      out.line(formatRunLine(run, connectionId));
    });

    await new Promise<void>((done) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
    });
    runs.close();
    await watcher.close();
    await demo?.close();
    await host.close();
    lock.release();
    out.note('Ferry dev stopped.');
    return EXIT.OK;
  },
};
