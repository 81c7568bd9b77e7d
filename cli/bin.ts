#!/usr/bin/env node
/**
 * The `ferry` command. Subcommands are imported lazily so `ferry --help` stays instant and only
 * `dryrun` loads the runtime.
 */
import type { Command } from './command.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { createOutput } from './output.ts';

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
  trigger: { summary: 'run a sync now for a connection (--full: a full refresh)', load: async () => (await import('./commands/trigger.ts')).triggerCommand },
  'held-deletes': { summary: 'list, apply or discard deletes held by the mass-delete guard', load: async () => (await import('./commands/held-deletes.ts')).heldDeletesCommand },
};

const HELP = `Usage: ferry <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}

Run \`ferry <command> --help\` for a command's options.`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<ExitCode> {
  const out = createOutput({ json: false });
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.note(HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    out.error(`unknown command "${name}"\n\n${HELP}`);
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

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
