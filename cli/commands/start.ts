/**
 * `ferry start`: the Ferry host from the installed package, configured by the same environment
 * variables as `ferry-server` (DATABASE_URL, FERRY_PORT, FERRY_SECRET_KEY, …; without
 * DATABASE_URL an embedded PGlite in FERRY_DATA_DIR). `--demo` (or FERRY_DEMO=true) also starts
 * the demo providers, deploys the scripts in --dir and connects each provider.
 */
import { resolve } from 'node:path';
import { loadConfig } from '@ferry/host/config';
import { createLogger } from '@ferry/host/logger';
import { HOST_OPTIONS, parseCommandArgs, UsageError, type Command } from '../command.ts';
import { setUpDemoWithScripts } from '../demo.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import { hostBanner } from '../host-banner.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatRunLine, watchRuns } from '../run-lines.ts';

const help = `Usage: ferry start [--demo] [--dir scripts]

Runs the Ferry host (API, scheduler, workers and runtime) in this process until Ctrl-C, configured
by the environment as in production: DATABASE_URL (without it, an embedded PGlite kept in
FERRY_DATA_DIR, default .ferry), FERRY_PORT (default 3003), FERRY_SECRET_KEY, FERRY_ENCRYPTION_KEY,
FERRY_ROLE, FERRY_LOG_LEVEL and the others docs/production.md lists.

The host's JSON logs go to stdout at FERRY_LOG_LEVEL (default info), with the banner on stderr,
so that stdout holds only JSON lines. On a terminal, unless FERRY_LOG_LEVEL is set, they go to
stderr at warn instead, and the banner to stdout. With --demo it prints one line per finished run
instead of the host's JSON logs (those go to stderr at FERRY_LOG_LEVEL, default warn there).

Options:
  --demo         also start the demo providers, deploy the scripts in --dir and connect each
                 provider (also when FERRY_DEMO=true); one line per finished run
  --dir <path>   the scripts the demo deploys (default: scripts)
  -h, --help     show this help

Exit codes: 0 stopped cleanly, 2 usage, 4 the host could not start, 7 the port is in use`;

export const startCommand: Command = {
  name: 'start',
  summary: 'run the Ferry host here, configured by the environment (--demo: with demo providers)',
  help,
  async run(argv, env): Promise<ExitCode> {
    const { values, positionals } = parseCommandArgs(argv, {
      help: HOST_OPTIONS.help,
      demo: { type: 'boolean', default: false },
      dir: { type: 'string', default: 'scripts' },
    });
    const out = createOutput({ json: false });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError(`start takes no arguments (got ${positionals.join(' ')})`);
    let config;
    try {
      config = loadConfig(env);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const demoMode = values.demo || config.FERRY_DEMO === true;
    // A person reads the banner, not JSON: the demo (someone's first look) and a terminal get the
    // host's logs on stderr at warn, which FERRY_LOG_LEVEL brings back to its level. Production
    // (stdout not a terminal, or FERRY_LOG_LEVEL set) keeps its JSON logs on stdout, and nothing
    // else there: the banner goes to stderr, so a log collector reads only JSON lines.
    const logsForPeople = demoMode || (process.stdout.isTTY === true && env['FERRY_LOG_LEVEL'] === undefined);
    const logger = logsForPeople
      ? createLogger({ level: env['FERRY_LOG_LEVEL'] ?? 'warn', destination: process.stderr })
      : createLogger({ level: config.FERRY_LOG_LEVEL });
    const logsHint = env['FERRY_LOG_LEVEL'] ? '' : " (the host's JSON logs: FERRY_LOG_LEVEL=info, on stderr)";
    const { startFerry, guardProcessFaults, DEMO_CONNECTION_ID } = await import('@ferry/host');
    guardProcessFaults(logger);
    // Migrations (and on a first embedded start, creating the database) take seconds: say so first.
    out.note(`Starting Ferry on ${config.DATABASE_URL ? 'the Postgres at DATABASE_URL' : `an embedded PGlite in ${config.FERRY_DATA_DIR}`}: migrations, then the API…`);
    let host;
    try {
      host = await startFerry(config, logger);
    } catch (error) {
      out.error(`Ferry could not start: ${(error as Error).message}`);
      return (error as { code?: unknown }).code === 'PORT_IN_USE' ? EXIT.BUSY : EXIT.HOST;
    }
    let demo: { close(): Promise<void> } | null = null;
    let runs: { close(): void } | null = null;
    if (demoMode && host.url) {
      const url = host.url;
      // Watching before the demo connects, so its first runs are reported too.
      runs = watchRuns(createHostClient({ url, key: host.secretKey }), (run, connectionId) => out.line(formatRunLine(run, connectionId)));
      demo = await setUpDemoWithScripts({ url, secretKey: host.secretKey, logger, scriptsDir: resolve(values.dir) });
      const recordsUrl = `${url}/records?connection_id=${DEMO_CONNECTION_ID}&model=Contact&limit=5`;
      out.line([
        '',
        ...hostBanner('Ferry', host, url, config.FERRY_DATA_DIR),
        `The demo contacts sync runs every minute for connection "${DEMO_CONNECTION_ID}". Read its records:`,
        `  curl -H 'Authorization: Bearer ${host.secretKey}' '${recordsUrl}'`,
        `Runs and their usage:`,
        `  curl -H 'Authorization: Bearer ${host.secretKey}' '${url}/runs?connection_id=${DEMO_CONNECTION_ID}'`,
        `Each finished run prints one line below${logsHint}.`,
        '',
      ].join('\n'));
    } else if (host.url) {
      const banner = hostBanner('Ferry', host, host.url, config.FERRY_DATA_DIR);
      if (logsForPeople) out.line([...banner, `Stop with Ctrl-C${logsHint}.`].join('\n'));
      else out.note(banner.join('\n'));
    }

    const signal = await new Promise<NodeJS.Signals>((done) => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => done(s));
    });
    logger.info({ signal }, 'shutting down');
    runs?.close();
    await demo?.close();
    await host.close();
    out.note('Ferry stopped.');
    return EXIT.OK;
  },
};
