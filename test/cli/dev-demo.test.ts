/**
 * `ferry dev --demo` on a fresh data folder, as a newcomer first runs it: the demo deploys the
 * project's scripts before connecting, and the deploy dev reports is that one — every script
 * "new", not a second deploy's "unchanged" — after which the demo's first run prints its line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { waitFor } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let child: ChildProcess | undefined;
let tmp: string | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the first deploy of a fresh `ferry dev --demo` lists every script as new, and the demo syncs run', async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-dev-demo-'));
  const scripts = join(tmp, 'scripts');
  await cp(join(REPO, 'scripts/demo'), join(scripts, 'demo'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_LOG_LEVEL: 'warn' };
  delete env.FERRY_SECRET_KEY;
  child = spawn(process.execPath, [join(REPO, 'cli/bin.ts'), 'dev', '--demo', '--dir', scripts, '--port', '0', '--data-dir', join(tmp, 'data'), '--json'], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const events = () => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, any>);

  const deployed = await waitFor('the first deploy', async () => {
    if (child!.exitCode !== null) throw new Error(`ferry dev exited with ${child!.exitCode}: ${stderr}`);
    return events().find((e) => e.event === 'deployed');
  }, 120_000);
  expect(deployed.version).toBe(1);
  expect(deployed.scripts.length).toBeGreaterThan(0);
  expect(deployed.scripts.filter((s: { status: string }) => s.status !== 'new')).toEqual([]);
  expect(events().filter((e) => e.event === 'deployed')).toHaveLength(1);

  const ran = await waitFor('a demo run', async () => events().find((e) => e.event === 'run' && e.run.sync === 'contacts'), 90_000);
  expect(ran).toMatchObject({ connection_id: 'demo-connection', run: { status: 'succeeded' } });

  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => (child!.exitCode !== null ? r(child!.exitCode) : child!.once('exit', (c) => r(c))));
  expect(code).toBe(0);
}, 300_000);
