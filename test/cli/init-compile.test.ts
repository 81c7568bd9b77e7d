/**
 * `ferry init` scaffolds a project that compiles as is; `ferry compile` names type errors,
 * Node globals and bad definitions at file:line with a fix, and exits 3.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createScriptTester, readFixture } from '../../testing/index.ts';

const BIN = resolve(import.meta.dirname, '../../cli/bin.ts');
let dir: string;

function cli(...args: string[]) {
  return promisify(execFile)(process.execPath, [BIN, ...args], { cwd: dir }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-init-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('init writes a project whose scripts type-check, bundle and describe; a second init keeps edits', async () => {
  const init = await cli('init', '--json');
  expect(init.code).toBe(0);
  expect(JSON.parse(init.stdout).written).toEqual(expect.arrayContaining(['scripts/demo/syncs/contacts.ts', 'scripts/demo/actions/create-contact.ts', 'tsconfig.json']));

  const compiled = await cli('compile', '--json');
  expect(compiled.code).toBe(0);
  expect(JSON.parse(compiled.stdout)).toEqual({
    ok: true,
    typechecked: true,
    scripts: [
      { name: 'create-contact', provider: 'demo', kind: 'action', models: [] },
      { name: 'contacts', provider: 'demo', kind: 'sync', models: ['Contact'] },
    ],
  });

  // The example test has a fixture from the start, so `npm test` right after init runs it
  // (it was skipped until a fixture was recorded): replayed in the real runtime, every page saved.
  const fixture = await readFixture(join(dir, 'scripts/demo/fixtures/contacts.json'));
  const tester = createScriptTester();
  try {
    const run = await tester.run({ script: join(dir, 'scripts/demo/syncs/contacts.ts'), fixture });
    expect(run.error).toBeUndefined();
    expect(run.records('Contact').map((c: { id: string }) => c.id)).toEqual(['ct_example_1', 'ct_example_2', 'ct_example_3']);
  } finally {
    await tester.close();
  }
  expect(await readFile(join(dir, 'scripts/demo/syncs/contacts.test.ts'), 'utf8')).not.toContain('skipIf');

  const again = await cli('init', '--json');
  expect(JSON.parse(again.stdout)).toMatchObject({ written: [], kept: expect.arrayContaining(['tsconfig.json']) });
});

it("init's tsconfig (what an editor and plain tsc read) knows what the bundler gives scripts of Node, and nothing more of it", async () => {
  // The project's node_modules, as after `npm install` (this repository's: its @ferry packages are the sources).
  await symlink(resolve(import.meta.dirname, '../../node_modules'), join(dir, 'node_modules'));
  const helper = join(dir, 'scripts/demo/sign.ts');
  const tsc = () => promisify(execFile)(process.execPath, [resolve(import.meta.dirname, '../../node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir }).then(
    () => '',
    (error: { stdout: string }) => error.stdout,
  );
  try {
    await writeFile(helper, [
      "import { createHmac, randomBytes } from 'crypto';",
      "import { URL as Url } from 'node:url';",
      "export const state = (key: string) => createHmac('sha256', key).update(randomBytes(16)).digest('base64url');",
      "export const claims = (jwt: string): unknown => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));",
      "export const host = new Url('https://x.test/a').host;",
    ].join('\n'));
    expect(await tsc()).toBe('');
    await writeFile(helper, "export const env = process.env['X'];\nexport { createCipheriv } from 'crypto';");
    const errors = await tsc();
    expect(errors).toMatch(/sign\.ts\(1,\d+\): error TS2591?: Cannot find name 'process'/);
    expect(errors).toMatch(/sign\.ts\(2,\d+\): error TS\d+: Module '"crypto"' has no exported member 'createCipheriv'/);
  } finally {
    await rm(helper, { force: true });
    await rm(join(dir, 'node_modules'));
  }
});

it("init writes npm's allowScripts for what ferry installs into a project's package.json, keeping the project's own entries and scripts", async () => {
  // A project as `npm init -y` leaves it, with one install-script decision of its own.
  const project = await mkdtemp(join(tmpdir(), 'ferry-init-manifest-'));
  try {
    await writeFile(join(project, 'package.json'), JSON.stringify({
      name: 'mine', version: '1.0.0', type: 'commonjs', scripts: { test: 'echo "Error: no test specified" && exit 1', build: 'tsc' }, allowScripts: { esbuild: false },
    }));
    const init = await promisify(execFile)(process.execPath, [BIN, 'init', '--json'], { cwd: project });
    expect(JSON.parse(init.stdout).updated).toContain('package.json');
    const manifest = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      name: 'mine', type: 'commonjs', scripts: { test: 'vitest run', build: 'tsc', typecheck: 'ferry compile' },
      dependencies: { ferry: expect.any(String), zod: expect.any(String) },
      allowScripts: { 'isolated-vm': true, esbuild: false, node: true, 'core-js-pure': false },
    });
  } finally {
    await rm(project, { recursive: true, force: true });
  }
});

it('compile reports a type error and a Node global at file:line with a fix, exit 3', async () => {
  const file = join(dir, 'scripts/demo/syncs/contacts.ts');
  const original = await readFile(file, 'utf8');
  await writeFile(file, original.replace("await ctx.batchSave(data.data, 'Contact');", "await ctx.batchSave(data.data, 'Contacts');\n      ctx.log(process.env['TOKEN']);"));
  const result = await cli('compile');
  expect(result.code).toBe(3);
  expect(result.stderr).toMatch(/scripts\/demo\/syncs\/contacts\.ts:\d+:\d+ TS2345/);
  expect(result.stderr).toMatch(/scripts\/demo\/syncs\/contacts\.ts:\d+:\d+ TS\d+: Cannot find name 'process'\.\n[\s\S]*fix: scripts run in an isolate without Node/);
  await writeFile(file, original);
});

it('compile catches a definition the runtime refuses (a bad frequency) even without type-checking', async () => {
  const file = join(dir, 'scripts/demo/syncs/contacts.ts');
  const original = await readFile(file, 'utf8');
  await writeFile(file, original.replace("'every 5 minutes'", "'whenever'"));
  const result = await cli('compile', '--no-typecheck', '--json');
  expect(result.code).toBe(3);
  expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, stage: 'definition', problems: [{ message: expect.stringMatching(/^frequency:/) }] });
  await writeFile(file, original);
});

it('compile names where a top level that throws threw, in the script\'s own file', async () => {
  const file = join(dir, 'scripts/demo/syncs/contacts.ts');
  const original = await readFile(file, 'utf8');
  const lines = original.split('\n');
  const at = lines.findIndex((l) => l.startsWith('export default'));
  lines.splice(at, 0, "const region = (JSON.parse('null') as { name: string }).name;");
  await writeFile(file, lines.join('\n'));
  const result = await cli('compile', '--no-typecheck');
  expect(result.code).toBe(3);
  expect(result.stderr).toMatch(new RegExp(`^error: scripts/demo/syncs/contacts\\.ts:${at + 1}:\\d+: SCRIPT_LOAD_ERROR: .*reading 'name'`, 'm'));
  expect(result.stderr).not.toContain('the module must');
  await writeFile(file, original);
});

