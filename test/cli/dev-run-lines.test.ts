/**
 * `ferry dev` in a terminal (no --json): each finished run is one readable line on stdout, a
 * failure with its code, message and where in the script's .ts file it threw — not the host's
 * JSON logs — against a real provider server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createApiClient, waitFor } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

const REPO = resolve(import.meta.dirname, '../..');
let child: ChildProcess | undefined;
let tmp: string | undefined;
let provider: ItemsProvider | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await provider?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a run that throws prints one line naming the .ts file, line and column of the throw', async () => {
  provider = await startItemsProvider(3);
  tmp = await mkdtemp(join(tmpdir(), 'ferry-dev-lines-'));
  await mkdir(join(tmp, 'scripts/itemsp/syncs'), { recursive: true });
  await writeFile(join(tmp, 'scripts/itemsp/syncs/items.ts'), `import { createSync } from 'ferry/sdk';
import { z } from 'zod';

export default createSync({
  description: 'saves a page, then fails', frequency: 'every 1 hour', syncType: 'full', models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get<{ items: Array<{ id: string; name: string }> }>({ endpoint: '/items' });
    await nango.batchSave(res.data.items, 'Item');
    if (res.data.items.length > 0) throw new Error('stopping after the first page');
  },
});
`);
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_LOG_LEVEL: 'warn' };
  delete env.FERRY_SECRET_KEY;
  child = spawn(process.execPath, [join(REPO, 'cli/bin.ts'), 'dev', '--port', '0', '--data-dir', join(tmp, 'data')], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const host = await waitFor('the dev host', async () => {
    if (child!.exitCode !== null) throw new Error(`ferry dev exited with ${child!.exitCode}: ${stderr}`);
    const url = /running at (http:\/\/\S+)/.exec(stdout)?.[1];
    const key = /Secret key: (\S+)/.exec(stdout)?.[1];
    return url && key && stdout.includes('Watching') ? { url, key } : undefined;
  }, 120_000);
  const api = createApiClient(host.url, host.key);
  expect((await api.put('/providers/itemsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await api.post('/connections', { connection_id: 'items-1', provider: 'itemsp' })).status).toBe(201);

  const line = await waitFor('the run line', async () => stdout.split('\n').find((l) => l.startsWith('✗ sync items on items-1')), 60_000);
  expect(line).toMatch(/^✗ sync items on items-1 \(run \d+\) failed: SCRIPT_ERROR: stopping after the first page at scripts\/itemsp\/syncs\/items\.ts:9:42; 3 added, 0 updated, 0 deleted; wall \d+(\.\d)? m?s, peak \d+\.\d MB$/);
  // The terminal gets lines for people: nothing of the host's JSON logs.
  expect(stdout.split('\n').filter((l) => l.trim().startsWith('{'))).toEqual([]);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => (child!.exitCode !== null ? r(child!.exitCode) : child!.once('exit', (c) => r(c))));
  expect(code).toBe(0);
}, 240_000);
