/**
 * `npm run bench`: runs every bench/<name>/run.ts in its own Node process, one after another, and
 * reports which failed. Each benchmark prints its own figures beside its baseline.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';

const benchDir = new URL('./', import.meta.url);
const only = process.argv.slice(2);
const names = (await readdir(benchDir, { withFileTypes: true }))
  .filter((entry) => entry.isDirectory() && (only.length === 0 || only.includes(entry.name)))
  .map((entry) => entry.name)
  .sort();

const failed: string[] = [];
for (const name of names) {
  const script = new URL(`./${name}/run.ts`, benchDir);
  if (!(await stat(script).catch(() => null))) continue;
  process.stdout.write(`\n=== bench/${name} ===\n`);
  const code = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, [script.pathname], { stdio: 'inherit' }).on('exit', resolve);
  });
  if (code !== 0) failed.push(`${name} (exit ${code})`);
}
if (failed.length > 0) {
  process.stderr.write(`\nfailed: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
