/** `ferry init [dir]`: scaffold a scripts project (an example sync and action, a test, types, tsconfig). */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { HOST_OPTIONS, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { initTemplates } from '../init-templates.ts';
import { createOutput } from '../output.ts';
import { scriptPaths } from '../typecheck.ts';

const help = `Usage: ferry init [dir] [--force] [--json]

Creates a scripts project in dir (default: the current directory): an incremental sync and an
action for the demo CRM, a test that replays recorded responses, a tsconfig.json that resolves
ferry/sdk, ferry/testing and zod, and a README with the next commands. Existing files are kept
unless --force.

Options:
  --force      overwrite files that exist
  --json       print the files written as JSON
  -h, --help   show this help

Exit codes: 0 created, 2 usage`;

export const initCommand: Command = {
  name: 'init',
  summary: 'scaffold a scripts project (example sync and action, test, tsconfig)',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: HOST_OPTIONS.json, help: HOST_OPTIONS.help, force: { type: 'boolean', default: false } });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.note(help);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 1) throw new UsageError('give at most one directory: ferry init [dir]');
      const root = resolve(positionals[0] ?? '.');
      // tsconfig paths are relative to the project, so it keeps working when the folder moves with Ferry beside it.
      const paths = Object.fromEntries(Object.entries(scriptPaths()).map(([name, targets]) => [name, targets.map((t) => relative(root, t) || '.')]));
      const written: string[] = [];
      const kept: string[] = [];
      for (const [file, content] of Object.entries(initTemplates(paths))) {
        const path = join(root, file);
        if (existsSync(path) && !values.force) {
          kept.push(file);
          continue;
        }
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, content);
        written.push(file);
      }
      out.json({ ok: true, dir: root, written, kept });
      out.line(`Created a scripts project in ${root}:`);
      for (const file of written) out.line(`  + ${file}`);
      for (const file of kept) out.line(`  = ${file} (exists; --force to overwrite)`);
      const fromCwd = relative(process.cwd(), root);
      const cd = fromCwd.startsWith('..') ? root : fromCwd;
      out.line(`\nNext:${cd ? `\n  cd ${cd}` : ''}\n  npx ferry dev --demo\n  npx ferry dryrun contacts --connection demo-connection`);
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
