/**
 * `ferry init` in a Nango project (test/fixtures/nango-project, in Nango's layout) writes the
 * vitest config that runs the project's own tests on Ferry, so `npm test` (vitest run) passes
 * right after it: over the project's vite.config.ts when it has one (as Nango's projects do),
 * else on its own with the project's vitest.setup.ts. A vitest.config the project already has
 * is left as it is, and init says what to add. Each case runs the real CLI binary, then vitest,
 * in a temp dir.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'cli/bin.ts');
const FIXTURE = join(REPO, 'test/fixtures/nango-project');
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A copy of the fixture project with the package.json a Nango project has (it lists `nango`), plus `extra` files. */
async function nangoProject(extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-init-nango-'));
  dirs.push(dir);
  await cp(FIXTURE, dir, { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'my-integrations', private: true, type: 'module', devDependencies: { nango: '0.71.3' }, scripts: { test: 'vitest --run' } }));
  for (const [file, text] of Object.entries(extra)) await writeFile(join(dir, file), text);
  return dir;
}

async function init(dir: string) {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'init', '--json'], { cwd: dir });
  return JSON.parse(stdout) as { nango: boolean; written: string[]; kept: string[]; addPlugin?: { file: string; hint: string } };
}

/** vitest in the project, as its `npm test` runs it; resolves with the json reporter's counts. */
async function vitest(dir: string) {
  const output = join(dir, 'report.json');
  let stderr = '';
  const child = spawn(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--reporter=json', `--outputFile=${output}`, '--testTimeout=120000'], { cwd: dir, env: { ...process.env, CI: '' } });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const code = await new Promise((done) => child.on('close', done));
  const report = JSON.parse(await readFile(output, 'utf8').catch(() => '{"numTotalTests":0,"numPassedTests":0}')) as { numTotalTests: number; numPassedTests: number };
  return { code, ...report, stderr };
}

/** Every `it(` of the fixture's test files. */
async function fixtureTests(): Promise<number> {
  let count = 0;
  for (const file of (await readdir(FIXTURE, { recursive: true })).filter((f) => f.endsWith('.test.ts'))) {
    count += ((await readFile(join(FIXTURE, file), 'utf8')).match(/\bit\(/g) ?? []).length;
  }
  return count;
}

it("after init, the Nango project's own tests pass unmodified: with its vite.config.ts, and without one", async () => {
  // Nango's projects carry a vite.config.ts naming their setup file; the fixture's tests need it (global.vitest).
  const withVite = await nangoProject({
    'vite.config.ts': "import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { include: ['**/*.test.ts'], setupFiles: 'vitest.setup.ts' } });\n",
  });
  const bare = await nangoProject();
  const [viteInit, bareInit] = await Promise.all([init(withVite), init(bare)]);
  for (const result of [viteInit, bareInit]) {
    expect(result).toMatchObject({ nango: true, written: ['vitest.config.ts'] });
    // No example scripts of Ferry's own layout land in the Nango project.
    expect(result.written.some((file) => file.startsWith('scripts/'))).toBe(false);
  }
  expect(await readFile(join(withVite, 'vitest.config.ts'), 'utf8')).toContain("import project from './vite.config.ts'");
  expect(await readFile(join(bare, 'vitest.config.ts'), 'utf8')).toContain("setupFiles: 'vitest.setup.ts'");
  // The project's own test script is kept.
  expect(JSON.parse(await readFile(join(bare, 'package.json'), 'utf8')).scripts.test).toBe('vitest --run');

  const expected = await fixtureTests();
  expect(expected).toBeGreaterThanOrEqual(5);
  const [viteRun, bareRun] = await Promise.all([vitest(withVite), vitest(bare)]);
  for (const run of [viteRun, bareRun]) {
    expect({ code: run.code, total: run.numTotalTests, passed: run.numPassedTests }, run.stderr.slice(-3000)).toEqual({ code: 0, total: expected, passed: expected });
  }
}, 600_000);

it("a vitest.config the project already has is not rewritten: init names what to add", async () => {
  const own = "import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { setupFiles: 'vitest.setup.ts' } });\n";
  const dir = await nangoProject({ 'vitest.config.ts': own });
  const result = await init(dir);
  expect(result).toMatchObject({ nango: true, written: [], kept: expect.arrayContaining(['vitest.config.ts']), addPlugin: { file: 'vitest.config.ts', hint: expect.stringContaining('nangoTests()') } });
  expect(await readFile(join(dir, 'vitest.config.ts'), 'utf8')).toBe(own);

  // Once it loads the plugin, init leaves it be and says nothing more.
  await writeFile(join(dir, 'vitest.config.ts'), "import { defineConfig } from 'vitest/config';\nimport { nangoTests } from 'ferry/testing/vitest';\nexport default defineConfig({ plugins: [nangoTests()] });\n");
  const again = await init(dir);
  expect(again).toMatchObject({ nango: true, written: [], kept: expect.arrayContaining(['vitest.config.ts']) });
  expect(again.addPlugin).toBeUndefined();
}, 120_000);

it("in a Nango project's folder, compile finds its scripts without --dir (<integration>/{syncs,actions} at the root), and type-checks and bundles them", async () => {
  const dir = await nangoProject();
  const compiled = await promisify(execFile)(process.execPath, [BIN, 'compile', '--json'], { cwd: dir }).then(
    ({ stdout }) => ({ code: 0, out: stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout + error.stderr }),
  );
  expect(compiled.code, compiled.out).toBe(0);
  const result = JSON.parse(compiled.out) as { ok: boolean; typechecked: boolean; scripts: Array<{ provider: string; name: string; kind: string }> };
  expect(result).toMatchObject({ ok: true, typechecked: true });
  // Every script of the fixture, and nothing from node_modules (which is a folder at the same root).
  const scripts = (await readdir(FIXTURE, { recursive: true })).filter((f) => /^[^/]+\/(syncs|actions)\/[^/]+\.ts$/.test(f) && !f.endsWith('.test.ts'));
  expect(result.scripts.map((s) => `${s.provider}/${s.kind}s/${s.name}.ts`).sort()).toEqual(scripts.sort());
}, 120_000);
