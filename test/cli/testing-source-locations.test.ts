/**
 * `ferry/testing` reports a failing script's error where the host would record it: the stack and
 * `location` name the script's .ts file, line and column, against a real provider server.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

let provider: ItemsProvider;
let dir: string;
const tester = createScriptTester();

beforeAll(async () => {
  provider = await startItemsProvider(3);
  dir = await mkdtemp(join(tmpdir(), 'ferry-testing-locations-'));
});
afterAll(async () => {
  await tester.close();
  await provider.close();
  await rm(dir, { recursive: true, force: true });
});

test('a script that throws after a provider call reports the .ts file:line:col of the throw', async () => {
  const script = join(dir, 'itemsp/syncs/picky.ts');
  await mkdir(join(script, '..'), { recursive: true });
  await writeFile(script, `import { createSync } from 'ferry/sdk';
import { z } from 'zod';

export default createSync({
  description: 'refuses a page of three', frequency: 'every hour', models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get<{ items: unknown[] }>({ endpoint: '/items' });
    if (res.data.items.length === 3) throw new Error('three items is too few');
  },
});
`);
  const run = await tester.run({ script, proxy: liveProxy({ baseUrl: provider.url }) });
  expect(provider.requests.map((r) => r.path)).toContain('/items');
  // Relative to the working directory when the script is inside it; this one is not.
  expect(run.error).toMatchObject({ code: 'SCRIPT_ERROR', message: 'three items is too few', location: { file: script, line: 8, column: 44 } });
  expect(run.error!.stack).toContain(`${script}:8:44`);
});
