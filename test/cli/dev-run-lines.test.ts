/**
 * `ferry dev` in a terminal (no --json): each finished run is one readable line on stdout, a
 * failure with its code, message and where in the script's .ts file it threw — not the host's
 * JSON logs — against a real provider server.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { devEnv, spawnCli, tempDir } from '../helpers/cli-process.ts';
import { createApiClient } from '../helpers/ferry.ts';
import { startItemsProvider } from '../sync/items-provider.ts';

test('a run that throws prints one line naming the .ts file, line and column of the throw', async () => {
  const provider = await startItemsProvider(3);
  onTestFinished(() => provider.close());
  const tmp = await tempDir('ferry-dev-lines-');
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
  const dev = spawnCli(['dev', '--port', '0', '--data-dir', join(tmp, 'data')], { cwd: tmp, env: devEnv() });
  const host = await dev.waitFor('the dev host', () => {
    const url = /running at (http:\/\/\S+)/.exec(dev.stdout())?.[1];
    const key = /Secret key: (\S+)/.exec(dev.stdout())?.[1];
    return url && key && dev.stdout().includes('Watching') ? { url, key } : undefined;
  }, 120_000);
  const api = createApiClient(host.url, host.key);
  expect((await api.put('/providers/itemsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await api.post('/connections', { connection_id: 'items-1', provider: 'itemsp' })).status).toBe(201);

  const line = await dev.waitFor('the run line', () => dev.stdout().split('\n').find((l) => l.startsWith('✗ sync items on items-1')), 60_000);
  expect(line).toMatch(/^✗ sync items on items-1 \(run \d+\) failed: SCRIPT_ERROR: stopping after the first page at scripts\/itemsp\/syncs\/items\.ts:9:42; 3 added, 0 updated, 0 deleted; wall \d+(\.\d)? m?s, peak \d+\.\d MB$/);
  // The terminal gets lines for people: nothing of the host's JSON logs.
  expect(dev.stdout().split('\n').filter((l) => l.trim().startsWith('{'))).toEqual([]);

  expect(await dev.stop('SIGTERM')).toBe(0);
}, 240_000);
