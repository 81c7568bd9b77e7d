/**
 * `ferry dev` as a user runs it: a child process on embedded PGlite that deploys a scripts
 * folder, redeploys when a script is saved, reports a script that does not bundle without
 * stopping, follows renames, reports a failed run with where it threw, and exits cleanly on SIGTERM.
 */
import { cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { devEnv, REPO, spawnCli, tempDir } from '../helpers/cli-process.ts';
import { createApiClient } from '../helpers/ferry.ts';

test('deploys on start, redeploys a saved script, survives a broken one, stops on SIGTERM', async () => {
  const tmp = await tempDir('ferry-dev-');
  const scripts = join(tmp, 'scripts');
  await cp(join(REPO, 'scripts/chat/actions'), join(scripts, 'chat/actions'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  const dev = spawnCli(['dev', '--dir', scripts, '--port', '0', '--data-dir', join(tmp, 'data'), '--json'], { cwd: tmp, env: devEnv() });
  const { events } = dev;
  const waitFor = dev.waitFor;
  const eventCount = (name: string) => events().filter((e) => e.event === name).length;

  const ready = await waitFor('the ready event', async () => events().find((e) => e.event === 'ready'), 120_000);
  const api = createApiClient(ready.url, ready.key);
  const first = await waitFor('the first deploy', async () => events().find((e) => e.event === 'deployed'), 60_000);
  expect(first.scripts).toEqual([{ name: 'post-message', provider: 'chat', kind: 'action', status: 'new' }]);
  const hashOf = async () => ((await api.get('/scripts')).body.scripts as Array<{ name: string; hash: string }>).find((s) => s.name === 'post-message')?.hash;
  const firstHash = await hashOf();
  expect(firstHash).toMatch(/^[0-9a-f]{64}$/);
  await waitFor('the watcher ready', async () => events().find((e) => e.event === 'watching'), 60_000);

  // Save a change: the watcher redeploys and the host serves the new bundle.
  const file = join(scripts, 'chat/actions/post-message.ts');
  const original = await readFile(file, 'utf8');
  await writeFile(file, original.replace("'Post a message to a chat channel'", "'Post a message (edited)'"));
  const redeployed = await waitFor('the redeploy', async () => events().find((e) => e.event === 'deployed' && e.scripts.some((s: any) => s.status === 'changed')), 60_000);
  expect(redeployed.version).toBe(first.version + 1);
  const newHash = await hashOf();
  expect(newHash).not.toBe(firstHash);

  // A script that does not parse is reported with its file and line (by the type-check that runs before each deploy); the deployed version stays.
  await writeFile(file, `${original}\nconst broken = ;\n`);
  const failed = await waitFor('the failed check', async () => events().find((e) => e.event === 'typecheck_failed' || e.event === 'deploy_failed'), 60_000);
  expect(JSON.stringify(failed)).toMatch(/post-message\.ts/);
  expect(failed.event === 'typecheck_failed' ? failed.diagnostics[0].line : JSON.stringify(failed.failures)).toBeTruthy();
  expect(await hashOf()).toBe(newHash);
  expect(eventCount('deployed')).toBe(2);

  // A type error (that bundles fine) is reported at file:line and not deployed.
  await writeFile(file, `${original}\nexport const count: number = 'not a number';\n`);
  const typeFailed = await waitFor('the type error', async () => events().find((e) => e.event === 'typecheck_failed' && e.diagnostics.some((d: any) => d.code === 2322)), 60_000);
  expect(typeFailed.diagnostics.find((d: any) => d.code === 2322)).toMatchObject({ file: expect.stringMatching(/post-message\.ts$/), line: expect.any(Number) });
  expect(await hashOf()).toBe(newHash);
  expect(eventCount('deployed')).toBe(2);

  // An editor's atomic save (a temporary file renamed over the script) is seen and deployed.
  const temp = join(scripts, 'chat/actions/.post-message.ts.swp');
  await writeFile(temp, original.replace("'Post a message to a chat channel'", "'Post a message (atomic)'"));
  await rename(temp, file);
  await waitFor('the deploy after an atomic save', async () => (eventCount('deployed') === 3 ? true : undefined), 60_000);
  expect(await hashOf()).not.toBe(newHash);

  // A script in a folder created after dev started is deployed, and each of its runs prints one line.
  expect((await api.put('/providers/later', { base_url: 'http://127.0.0.1:9', auth: { type: 'bearer' } })).status).toBe(200);
  expect((await api.post('/connections', { connection_id: 'later-1', provider: 'later', credentials: { type: 'bearer', token: 't' } })).status).toBe(201);
  await mkdir(join(scripts, 'later/syncs'), { recursive: true });
  await writeFile(join(scripts, 'later/syncs/tiny.ts'), `import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'two items', frequency: 'every 1 hour', syncType: 'full', models: { Item: z.object({ id: z.string() }) },
  exec: async (ctx) => { await ctx.batchSave([{ id: 'a' }, { id: 'b' }], 'Item'); },
});
`);
  const added = await waitFor('the new folder deployed', async () => events().find((e) => e.event === 'deployed' && e.scripts.some((s: any) => s.name === 'tiny' && s.status === 'new')), 60_000);
  expect(added).toBeDefined();
  const ran = await waitFor('the run line', async () => events().find((e) => e.event === 'run' && e.run.sync === 'tiny'), 60_000);
  expect(ran.run).toMatchObject({ status: 'succeeded', counts: { added: 2 } });

  // A run that throws: its line names the .ts file, line and column of the throw.
  await writeFile(join(scripts, 'later/syncs/broken.ts'), `import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'fails', frequency: 'every 1 hour', syncType: 'full', models: { Item: z.object({ id: z.string() }) },
  exec: async () => { throw new Error('later is broken'); },
});
`);
  const broke = await waitFor('the failed run', async () => events().find((e) => e.event === 'run' && e.run.sync === 'broken'), 60_000);
  expect(broke.run.error.location).toEqual({ file: 'scripts/later/syncs/broken.ts', line: 5, column: 29 });

  // Renaming a script file renames the sync: the new name is deployed and the old one removed.
  const deploysBefore = eventCount('deployed');
  await rename(join(scripts, 'later/syncs/tiny.ts'), join(scripts, 'later/syncs/small.ts'));
  const renamed = await waitFor('the deploy after a rename', async () => events().filter((e) => e.event === 'deployed').slice(deploysBefore)
    .find((e) => e.scripts.some((s: any) => s.name === 'small' && s.status === 'new')), 60_000);
  expect(renamed.scripts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'small', kind: 'sync', status: 'new' }), expect.objectContaining({ name: 'tiny', kind: 'sync', status: 'removed' })]));
  expect(((await api.get('/scripts')).body.scripts as Array<{ name: string }>).map((s) => s.name).sort()).toEqual(['broken', 'post-message', 'small']);

  expect(await dev.stop('SIGTERM')).toBe(0);
}, 360_000);

test('in a new folder with no scripts yet: says where to add one, not "fix the script", and deploys the first one saved', async () => {
  const tmp = await tempDir('ferry-dev-empty-');
  const scripts = join(tmp, 'scripts'); // not there yet, as in a folder `ferry init` has not run in
  const dev = spawnCli(['dev', '--dir', scripts, '--port', '0', '--data-dir', join(tmp, 'data')], { cwd: tmp, env: devEnv() });
  await dev.waitFor('the watching line', () => (dev.stdout().includes('Watching') ? true : undefined), 120_000);
  expect(dev.stderr()).toContain(`no scripts found under ${scripts}`);
  expect(dev.stderr()).toContain('Add one there (`npx ferry init` writes an example sync and action); it is deployed when saved.');
  expect(dev.stderr()).not.toContain('Fix the script');

  await cp(join(REPO, 'scripts/chat/actions'), join(scripts, 'chat/actions'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  await dev.waitFor('the first deploy', () => (/Deployed version 1:\n\s+new\s+action post-message/.test(dev.stdout()) ? true : undefined), 60_000);
  expect(await dev.stop('SIGTERM')).toBe(0);
}, 240_000);
