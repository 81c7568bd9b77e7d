/**
 * Where a project's scripts are when a command is not given `--dir`: `scripts/` (the layout
 * `ferry init` writes), else the project folder itself when it is laid out as a Nango project is
 * (`<integration>/syncs/` and `<integration>/actions/` at its root), so `ferry compile`, `ferry
 * deploy`, `ferry dryrun` and `ferry dev` run unmodified in the folder a Nango developer works in.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const SCRIPTS_DIR = 'scripts';

/** Folders that never hold an integration's scripts. */
export function isIntegrationFolder(name: string): boolean {
  return !name.startsWith('.') && name !== 'node_modules';
}

export function defaultScriptsDir(cwd: string = process.cwd()): string {
  if (existsSync(join(cwd, SCRIPTS_DIR))) return SCRIPTS_DIR;
  const nangoLayout = readdirSync(cwd, { withFileTypes: true }).some(
    (entry) => entry.isDirectory() && isIntegrationFolder(entry.name) && (existsSync(join(cwd, entry.name, 'syncs')) || existsSync(join(cwd, entry.name, 'actions'))),
  );
  return nangoLayout ? '.' : SCRIPTS_DIR;
}
