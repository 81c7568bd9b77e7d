/**
 * cli/watch.ts, as `ferry dev` uses it: a save is reported whenever it lands, also between the
 * caller's first look at the folder and the end of the watcher's initial scan (which the watcher
 * alone never reports), and in a folder that did not exist when the watch began.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { scriptsSnapshot, watchScripts, type Watcher } from '../../cli/watch.ts';
import { tempDir } from '../helpers/cli-process.ts';
import { waitFor } from '../helpers/ferry.ts';

const SCRIPT = "export default { description: 'x' };\n";

/** A watch of `dir` that gathers every burst it reports; closed when the test finishes. */
function gather(dir: string, since?: Awaited<ReturnType<typeof scriptsSnapshot>>) {
  const bursts: string[][] = [];
  const watcher: Watcher = watchScripts(dir, async (files) => { bursts.push(files); }, { debounceMs: 50, ...(since && { since }) });
  return { bursts, watcher, files: () => bursts.flat() };
}

test('a save made before the watcher is ready is reported once it is; an unchanged file is not', async () => {
  const dir = await tempDir('ferry-watch-');
  await mkdir(join(dir, 'acme/syncs'), { recursive: true });
  await writeFile(join(dir, 'acme/syncs/kept.ts'), SCRIPT);
  await writeFile(join(dir, 'acme/syncs/edited.ts'), SCRIPT);
  const since = await scriptsSnapshot(dir);
  expect([...since.keys()].sort()).toEqual(['acme/syncs/edited.ts', 'acme/syncs/kept.ts']);
  // Saved after the caller's look and before the watch's scan: part of its initial state.
  await writeFile(join(dir, 'acme/syncs/edited.ts'), `${SCRIPT}// edited\n`);
  await writeFile(join(dir, 'acme/syncs/added.ts'), SCRIPT);
  const { watcher, files } = gather(dir, since);
  try {
    await watcher.ready;
    const seen = await waitFor('the catch-up burst', async () => (files().length >= 2 ? files() : undefined), 30_000);
    expect([...seen].sort()).toEqual(['acme/syncs/added.ts', 'acme/syncs/edited.ts']);
  } finally {
    await watcher.close();
  }
});

test('without `since`, the initial scan reports nothing; a save after it is reported', async () => {
  const dir = await tempDir('ferry-watch-');
  await mkdir(join(dir, 'acme/actions'), { recursive: true });
  await writeFile(join(dir, 'acme/actions/old.ts'), SCRIPT);
  const { watcher, bursts, files } = gather(dir);
  try {
    await watcher.ready;
    await writeFile(join(dir, 'acme/actions/new.ts'), SCRIPT);
    await waitFor('the save reported', async () => (files().includes('acme/actions/new.ts') ? true : undefined), 30_000);
    expect(bursts.flat()).not.toContain('acme/actions/old.ts');
  } finally {
    await watcher.close();
  }
});

test('a folder that does not exist yet: the first script saved in it is reported, whenever it lands', async () => {
  const parent = await tempDir('ferry-watch-missing-');
  for (const early of [true, false]) {
    const dir = join(parent, early ? 'early' : 'late');
    const since = await scriptsSnapshot(dir);
    expect(since.size).toBe(0);
    const { watcher, files } = gather(dir, since);
    try {
      const save = async () => {
        await mkdir(join(dir, 'chat/actions'), { recursive: true });
        await writeFile(join(dir, 'chat/actions/post-message.ts'), SCRIPT);
      };
      // Early: while the watcher is still starting (the race `ferry dev` had); late: after it is ready.
      if (early) await save();
      await watcher.ready;
      if (!early) await save();
      await waitFor(`the ${early ? 'early' : 'late'} script reported`, async () => (files().includes('chat/actions/post-message.ts') ? true : undefined), 30_000);
    } finally {
      await watcher.close();
    }
  }
});

test('the snapshot skips what the watcher ignores and files that are not scripts', async () => {
  const dir = await tempDir('ferry-watch-snap-');
  for (const path of ['node_modules/x/index.js', '.ferry/dev.json', 'acme/syncs/fixtures/a.json', 'acme/syncs/notes.md', 'acme/syncs/a.ts']) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), '{}');
  }
  expect([...(await scriptsSnapshot(dir)).keys()]).toEqual(['acme/syncs/a.ts']);
});
