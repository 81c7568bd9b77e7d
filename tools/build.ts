/**
 * `npm run build`: `tsc -b` of every package, then staging (tools/stage-packages.ts).
 *
 * `tsc -b` keeps its build info outside the output (node_modules/.cache/ferry-build) and trusts
 * it: with a package's dist deleted (by hand, or by a pack:packages clean that another build
 * raced) it reports the package up to date, emits nothing, and staging fails on the missing
 * folder. So a package whose output folder is gone has its build info dropped first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_DIRS } from './packages.ts';

const ROOT = join(import.meta.dirname, '..');

for (const dir of PACKAGE_DIRS) {
  const tsconfig = join(ROOT, dir, 'tsconfig.json');
  if (!existsSync(tsconfig)) continue;
  const options = (JSON.parse(readFileSync(tsconfig, 'utf8')) as { compilerOptions?: { outDir?: string; tsBuildInfoFile?: string } }).compilerOptions ?? {};
  if (options.tsBuildInfoFile && !existsSync(resolve(ROOT, dir, options.outDir ?? 'dist'))) {
    rmSync(resolve(ROOT, dir, options.tsBuildInfoFile), { force: true });
  }
}
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
run([join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json']);
run([join(ROOT, 'tools/stage-packages.ts')]);
