#!/usr/bin/env node
/**
 * The `ferry` command. Subcommands are imported lazily so `ferry --help` stays instant and only
 * `dryrun` loads the runtime.
 */
import type { Command } from './command.ts';
import { closestName } from './did-you-mean.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { createOutput } from './output.ts';
import { FERRY_VERSION } from './version.ts';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  init: { summary: 'scaffold a scripts project (example sync and action, test, tsconfig)', load: async () => (await import('./commands/init.ts')).initCommand },
  compile: { summary: 'type-check and bundle every script, with errors at file:line', load: async () => (await import('./commands/compile.ts')).compileCommand },
  connections: { summary: 'list, create, update and delete connections; their metadata', load: async () => (await import('./commands/connections.ts')).connectionsCommand },
  deploy: { summary: 'bundle all scripts and deploy them to the host', load: async () => (await import('./commands/deploy.ts')).deployCommand },
  start: { summary: 'run the Ferry host here, configured by the environment (--demo: with demo providers)', load: async () => (await import('./commands/start.ts')).startCommand },
  dev: { summary: 'run Ferry locally on embedded PGlite, redeploying scripts on save', load: async () => (await import('./commands/dev.ts')).devCommand },
  runs: { summary: "list a connection's recent runs with counts and usage", load: async () => (await import('./commands/runs.ts')).runsCommand },
  logs: { summary: "print a run's logs (--follow until it finishes)", load: async () => (await import('./commands/logs.ts')).logsCommand },
  dryrun: { summary: 'run a sync or action locally against a connection, saving nothing', load: async () => (await import('./commands/dryrun.ts')).dryrunCommand },
  providers: { summary: 'list, show, create or change (set) and delete providers', load: async () => (await import('./commands/providers.ts')).providersCommand },
  deploys: { summary: 'list deploy versions, newest first (the active one marked)', load: async () => (await import('./commands/deploys.ts')).deploysCommand },
  rollback: { summary: 'make an earlier deploy version active again (as a new version)', load: async () => (await import('./commands/deploys.ts')).rollbackCommand },
  trigger: { summary: 'run a sync now for a connection (--full: a full refresh)', load: async () => (await import('./commands/trigger.ts')).triggerCommand },
  variants: { summary: "list, add or remove a sync's variants on a connection", load: async () => (await import('./commands/variants.ts')).variantsCommand },
  'held-deletes': { summary: 'list, apply or discard deletes held by the mass-delete guard', load: async () => (await import('./commands/held-deletes.ts')).heldDeletesCommand },
};

const WIDTH = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
const HELP = `Usage: ferry <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(WIDTH)}  ${c.summary}`).join('\n')}

Options:
  -v, --version  print the version
  -h, --help     show this help

Run \`ferry <command> --help\` for a command's options.
Exit codes: 0 ok, 1 failed, 2 usage, 3 a script does not compile, 4 host unreachable,
            5 key refused, 6 declined, 7 busy (port in use, or a data folder another ferry dev holds),
            8 partial (deploy --partial deployed some scripts, not all)`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<ExitCode> {
  const out = createOutput({ json: false });
  const [name, ...rest] = argv;
  if (name === undefined) {
    out.note(HELP);
    return EXIT.USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    out.help(HELP);
    return EXIT.OK;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    out.help(FERRY_VERSION);
    return EXIT.OK;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    const suggestion = closestName(name, Object.keys(COMMANDS));
    out.error(`unknown command "${name}"${suggestion ? `: did you mean "ferry ${suggestion}"?` : ''}\nRun \`ferry --help\` for the list of commands.`);
    return EXIT.USAGE;
  }
  const command = await entry.load();
  try {
    return await command.run(rest, env);
  } catch (error) {
    const { UsageError } = await import('./command.ts');
    if (!(error instanceof UsageError)) throw error;
    out.error(`${error.message}\n\n${command.help}`);
    return EXIT.USAGE;
  }
}

/** How a command ends whose reader of stdout went away, as sh reports one killed by SIGPIPE (128 + 13). */
const EXIT_READER_GONE = 141;

if (import.meta.main) {
  // `ferry runs | head`: once head has read enough, the next write fails with EPIPE. Stop quietly,
  // as a command killed by SIGPIPE does, instead of crashing with a stack trace on stderr.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(EXIT_READER_GONE);
  });
  process.exitCode = await main(process.argv.slice(2), process.env);
}
