/**
 * `ferry/testing` (and `ferry dryrun`, which use the same in-memory bridge) run trackDeletesStart/End
 * as the host does: the sync test/sync/engine.test.ts runs on the host, run here against the same
 * provider server, deletes exactly the record the provider no longer has; an end without its start
 * fails the run as on the host; checkpoints and metadata are kept in order.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

const TRACKED = resolve(import.meta.dirname, '../sync/fixtures/trackp/syncs/tracked.ts');
let provider: ItemsProvider;
const tester = createScriptTester();

beforeAll(async () => {
  provider = await startItemsProvider(12);
});
afterAll(async () => {
  await tester.close();
  await provider.close();
});

const held = () => Array.from({ length: 12 }, (_, i) => ({ id: String(i + 1).padStart(3, '0'), name: 'before' }));

test("records the host holds that the walk did not save are deleted at trackDeletesEnd, the host's way", async () => {
  provider.items.delete('006');
  const run = await tester.run({ script: TRACKED, proxy: liveProxy({ baseUrl: provider.url }), records: { Item: held() } });
  expect(run.error).toBeUndefined();
  expect(run.deleted('Item')).toEqual(['006']);
  expect(run.records('Item').map((r) => r.id)).toEqual(held().map((r) => r.id).filter((id) => id !== '006'));
  expect(run.records('Item').every((r) => r.name !== 'before')).toBe(true);
  provider.put('006');
});

test('trackDeletesEnd without its start fails the run, as on the host', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-track-'));
  try {
    const script = join(dir, 'end-only.ts');
    await writeFile(script, `
      import { createSync } from 'nango';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { Item: z.object({ id: z.string() }) },
        exec: async (nango) => {
          await nango.saveCheckpoint({ step: 1 });
          await nango.updateMetadata({ seen: true });
          await nango.trackDeletesEnd('Item');
        } });`);
    const run = await tester.run({ script, proxy: liveProxy({ baseUrl: provider.url }), records: { Item: held() } });
    expect(run.ok).toBe(false);
    expect(run.error?.message).toMatch(/trackDeletesEnd\("Item"\) without trackDeletesStart\("Item"\)/);
    expect(run.deleted('Item')).toEqual([]);
    expect(run.checkpoints).toEqual([{ step: 1 }]);
    expect(run.metadata).toEqual({ seen: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
