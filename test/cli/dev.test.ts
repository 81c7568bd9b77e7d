/**
 * `ferry dev` as a user runs it: a child process on embedded PGlite that deploys a scripts
 * folder, redeploys when a script is saved, reports a script that does not bundle without
 * stopping, and exits cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createApiClient, waitFor } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let child: ChildProcess | undefined;
let tmp: string | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('deploys on start, redeploys a saved script, survives a broken one, stops on SIGTERM', async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-dev-'));
  const scripts = join(tmp, 'scripts');
  await cp(join(REPO, 'scripts/chat/actions'), join(scripts, 'chat/actions'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_LOG_LEVEL: 'warn' };
  delete env.FERRY_SECRET_KEY;
  child = spawn(process.execPath, [join(REPO, 'cli/bin.ts'), 'dev', '--dir', scripts, '--port', '0', '--data-dir', join(tmp, 'data'), '--json'], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const events = () => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
  const eventCount = (name: string) => events().filter((e) => e.event === name).length;

  const ready = await waitFor('the ready event', async () => {
    if (child!.exitCode !== null) throw new Error(`ferry dev exited with ${child!.exitCode}: ${stderr}`);
    return events().find((e) => e.event === 'ready');
  }, 120_000);
  const api = createApiClient(ready.url, ready.key);
  const first = await waitFor('the first deploy', async () => events().find((e) => e.event === 'deployed'), 60_000);
  expect(first.scripts).toEqual([{ name: 'post-message', kind: 'action', status: 'new' }]);
  const hashOf = async () => ((await api.get('/scripts')).body.scripts as Array<{ name: string; hash: string }>).find((s) => s.name === 'post-message')?.hash;
  const firstHash = await hashOf();
  expect(firstHash).toMatch(/^[0-9a-f]{64}$/);

  // Save a change: the watcher redeploys and the host serves the new bundle.
  const file = join(scripts, 'chat/actions/post-message.ts');
  const original = await readFile(file, 'utf8');
  await writeFile(file, original.replace("'Post a message to a chat channel'", "'Post a message (edited)'"));
  const redeployed = await waitFor('the redeploy', async () => events().find((e) => e.event === 'deployed' && e.scripts.some((s: any) => s.status === 'changed')), 60_000);
  expect(redeployed.version).toBe(first.version + 1);
  const newHash = await hashOf();
  expect(newHash).not.toBe(firstHash);

  // A script that does not bundle is reported with its file and line; the deployed version stays.
  await writeFile(file, `${original}\nconst broken = ;\n`);
  const failed = await waitFor('the failed deploy', async () => events().find((e) => e.event === 'deploy_failed'), 60_000);
  expect(JSON.stringify(failed.failures)).toMatch(/post-message\.ts:\d+:\d+/);
  expect(await hashOf()).toBe(newHash);
  expect(eventCount('deployed')).toBe(2);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => (child!.exitCode !== null ? r(child!.exitCode) : child!.once('exit', (c) => r(c))));
  expect(code).toBe(0);
}, 240_000);
