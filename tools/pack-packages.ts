/**
 * `npm run pack:packages -- <dest>`: a clean build of every workspace, then `npm pack` of each
 * staged dist folder into <dest> (default: ./packs). Prints one tarball path per line.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_DIRS } from './packages.ts';

const ROOT = join(import.meta.dirname, '..');
const dest = resolve(process.argv[2] ?? join(ROOT, 'packs'));
const run = (command: string, args: string[]) => execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

// Clean: a file deleted from the sources must not survive in a tarball from an earlier build.
for (const dir of PACKAGE_DIRS) rmSync(join(ROOT, dir, 'dist'), { recursive: true, force: true });
rmSync(join(ROOT, 'node_modules/.cache/ferry-build'), { recursive: true, force: true });
// Progress on stderr (stdout is the tarball list): the clean build alone takes about a minute.
process.stderr.write('building every package from clean (tsc -b, about a minute)…\n');
run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json']);
run(process.execPath, [join(ROOT, 'tools/stage-packages.ts')]);

process.stderr.write(`packing ${PACKAGE_DIRS.length} packages into ${dest}…\n`);
mkdirSync(dest, { recursive: true });
for (const dir of PACKAGE_DIRS) {
  const [packed] = JSON.parse(run('npm', ['pack', join(ROOT, dir, 'dist'), '--pack-destination', dest, '--json', '--ignore-scripts'])) as Array<{ filename: string }>;
  process.stdout.write(`${join(dest, packed!.filename)}\n`);
}
