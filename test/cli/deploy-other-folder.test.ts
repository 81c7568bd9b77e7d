/**
 * `ferry deploy` of the same scripts from another folder (a second checkout, a CI build
 * directory, another working directory) is "unchanged": a bundle's identity is its code and its
 * source map's positions, not the paths in them. It used to count the map's file paths (a file
 * outside the project root was named by its absolute path, every path by where the deploy ran)
 * and esbuild's CommonJS module names (relative to the working directory), so every other
 * folder's deploy was a new version of each script. The `ferry` CLI as a process against a
 * whole host on real Postgres; and migration 0340 rehashes stored scripts as bundleHash does.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { bundleHash } from '../../runtime/bundle-hash.ts';
import { migrate } from '../../host/db/migrate.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const BIN = join(resolve(import.meta.dirname, '../..'), 'cli/bin.ts');

const SYNC = `import { createSync } from 'ferry/sdk';
import { z } from 'zod';
import { triple } from 'cjsdep';
import { double } from '../../../../shared/util.ts';
export default createSync({
  description: 'items', frequency: 'every 1 hour', syncType: 'full',
  models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => { await nango.batchSave([{ id: String(double(triple(1))) }], 'Item'); },
});
`;
const ACTION = `import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({ description: 'ping', input: z.object({}), output: z.object({ pong: z.boolean() }), exec: async () => ({ pong: true }) });
`;

let ferry: TestFerry;
let base: string;

/** One checkout: its project (scripts, node_modules with a CommonJS package) and, beside it, shared code the scripts import. */
async function checkout(name: string): Promise<string> {
  const root = join(base, name);
  await mkdir(join(root, 'shared'), { recursive: true });
  await writeFile(join(root, 'shared/util.ts'), 'export const double = (n: number) => n * 2;\n');
  const project = join(root, 'proj');
  await mkdir(join(project, 'scripts/acme/syncs'), { recursive: true });
  await mkdir(join(project, 'scripts/acme/actions'), { recursive: true });
  await mkdir(join(project, 'node_modules/cjsdep'), { recursive: true });
  await writeFile(join(project, 'node_modules/cjsdep/package.json'), '{"name":"cjsdep","main":"index.js"}');
  await writeFile(join(project, 'node_modules/cjsdep/index.js'), 'module.exports = { triple: (n) => n * 3 };\n');
  // Typed, as ferry deploy type-checks the scripts that import it.
  await writeFile(join(project, 'node_modules/cjsdep/index.d.ts'), 'export declare function triple(n: number): number;\n');
  await writeFile(join(project, 'scripts/acme/syncs/items.ts'), SYNC);
  await writeFile(join(project, 'scripts/acme/actions/ping.ts'), ACTION);
  return project;
}

function deploy(cwd: string, args: string[] = []) {
  return promisify(execFile)(process.execPath, [BIN, 'deploy', '--json', ...args], {
    cwd, env: { ...process.env, FERRY_URL: ferry.url, FERRY_SECRET_KEY: TEST_SECRET_KEY },
  }).then(({ stdout }) => JSON.parse(stdout) as { version: number; scripts: Array<{ name: string; status: string }>; plan?: { empty: boolean } });
}
const statuses = (r: { scripts: Array<{ name: string; status: string }> }) => Object.fromEntries(r.scripts.map((s) => [s.name, s.status]));

beforeAll(async () => {
  ferry = await startTestFerry();
  base = await mkdtemp(join(tmpdir(), 'ferry-other-folder-'));
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

test('the same scripts from another checkout or working directory deploy as unchanged; a real edit is changed', async () => {
  const first = await checkout('first');
  const second = await checkout('second');
  const deployed = await deploy(first);
  expect(statuses(deployed)).toEqual({ items: 'new', ping: 'new' });

  // Another checkout, deployed from its own root: its shared file has another absolute path.
  const again = await deploy(second);
  expect(statuses(again)).toEqual({ items: 'unchanged', ping: 'unchanged' });
  expect(again.version).toBe(deployed.version);
  expect(again.plan?.empty).toBe(true);
  // From a working directory above both checkouts: every path differs, the bundle does not.
  const fromAbove = await deploy(base, ['--dir', 'second/proj/scripts']);
  expect(statuses(fromAbove)).toEqual({ items: 'unchanged', ping: 'unchanged' });
  expect(fromAbove.version).toBe(deployed.version);

  // Content still counts: a moved line (positions only) and a code edit are changes.
  await writeFile(join(second, 'scripts/acme/syncs/items.ts'), `\n${SYNC}`);
  const moved = await deploy(second);
  expect(statuses(moved)).toEqual({ items: 'changed', ping: 'unchanged' });
  await writeFile(join(second, 'scripts/acme/actions/ping.ts'), ACTION.replace('pong: true', 'pong: false'));
  const edited = await deploy(second);
  expect(statuses(edited)).toEqual({ items: 'unchanged', ping: 'changed' });
  expect(edited.version).toBe(moved.version + 1);
}, 120_000);

test('migration 0340 rehashes stored scripts as bundleHash does; a map it cannot read keeps its hash', async () => {
  const sql = ferry.db.sql;
  const [sync] = await sql<{ id: string; code: string; source_map: string; hash: string }[]>`select id, code, source_map, hash from scripts where name = 'items' and active`;
  expect(sync!.source_map).toContain('"mappings"');
  expect(sync!.hash).toBe(bundleHash(sync!.code, sync!.source_map));
  // As an older host stored it: the hash covered the whole map, paths and all.
  const older = createHash('sha256').update(sync!.code).update('\0').update(sync!.source_map).digest('hex');
  expect(older).not.toBe(sync!.hash);
  await sql`update scripts set hash = ${older} where id = ${sync!.id}`;
  const [ping] = await sql<{ id: string }[]>`select id from scripts where name = 'ping' and active`;
  await sql`update scripts set source_map = '{not json', hash = 'kept-as-it-was' where id = ${ping!.id}`;

  await sql`delete from ferry_migrations where name = '0340_script_hash_without_paths.sql'`;
  expect(await migrate(sql)).toEqual(['0340_script_hash_without_paths.sql']);
  const [rehashed] = await sql<{ hash: string }[]>`select hash from scripts where id = ${sync!.id}`;
  expect(rehashed!.hash).toBe(sync!.hash);
  const [unread] = await sql<{ hash: string }[]>`select hash from scripts where id = ${ping!.id}`;
  expect(unread!.hash).toBe('kept-as-it-was');
});
