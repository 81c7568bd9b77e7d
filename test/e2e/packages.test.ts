/**
 * The user's path, outside this checkout: pack every workspace (`npm pack` of a clean build),
 * install the tarballs into a fresh folder made by `npm init -y` (with a vitest cache folder
 * already there), and run what the README's user quick start says: `npx ferry init`,
 * `ferry compile`, a host from the installed package (`ferry start`), `ferry deploy`,
 * `ferry dryrun`, then an app that reads the synced records with `@ferry/client` alone.
 * Only the npm registry is reached (for the packages' own dependencies).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, waitFor, waitForRun } from '../helpers/ferry.ts';

const REPO = join(import.meta.dirname, '../..');
const KEY = 'fsk_packaged_host_key_0123456789';
// npm and npx run on this Node (24), whatever `node` the shell would find first.
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;

let tmp: string | undefined;
let host: ChildProcess | undefined;
let provider: DemoProvider | undefined;
let db: TestDatabase | undefined;

afterAll(async () => {
  // The whole group: `npx` exits on SIGTERM without passing it on, which left `ferry start`
  // (and its worker children) running after the suite.
  if (host && host.exitCode === null && host.signalCode === null) {
    const exited = new Promise((done) => host!.once('exit', done));
    process.kill(-host.pid!, 'SIGTERM');
    await exited;
  }
  await provider?.close();
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return promisify(execFile)(command, args, { cwd, env: { ...process.env, PATH, ...env }, maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
}

async function tarballFiles(tarball: string): Promise<string[]> {
  const { stdout } = await sh('tar', ['-tzf', tarball], tmp!);
  return stdout.trim().split('\n').map((line) => line.replace(/^package\//, ''));
}

test('packed tarballs install outside the checkout; init, compile, start, deploy, dryrun and the client work from them', async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-packages-'));
  const packs = join(tmp, 'packs');
  const packed = await sh(process.execPath, [join(REPO, 'tools/pack-packages.ts'), packs], REPO);
  // stderr holds the two progress lines and nothing else (no warning, no error).
  expect(packed.stderr.split('\n').filter(Boolean).map((line) => line.split(' ')[0])).toEqual(['building', 'packing']);
  expect(packed.code).toBe(0);
  const tarballs = packed.stdout.trim().split('\n');
  expect(tarballs.map((t) => t.slice(packs.length + 1))).toEqual([
    'ferry-postgres-3.4.9-ferry.1.tgz', 'ferry-sdk-0.1.0.tgz', 'ferry-client-0.1.0.tgz', 'ferry-runtime-0.1.0.tgz', 'ferry-demo-0.1.0.tgz',
    'ferry-host-0.1.0.tgz', 'ferry-cli-0.1.0.tgz', 'ferry-testing-0.1.0.tgz', 'ferry-0.1.0.tgz',
  ]);

  // Only what runs: JavaScript, declarations, source maps and run-time assets (SQL, JSON, CSS); no sources, tests, build files or local data.
  for (const tarball of tarballs) {
    const files = await tarballFiles(tarball);
    expect(files).toContain('package.json');
    // The in-isolate SDK's sources are a run-time asset of @ferry/runtime: esbuild bundles them into
    // one script when a worker starts (runtime/worker/prelude/); Node never loads them.
    const isPreludeSource = (f: string) => tarball.includes('ferry-runtime-') && /^worker\/prelude\/[\w/-]+\.ts$/.test(f);
    const stray = files.filter((f) => (/\.tsx?$/.test(f) && !f.endsWith('.d.ts') && !isPreludeSource(f)) || /tsconfig|tsbuildinfo|\.test\.|\.log$/.test(f) || /(^|\/)(test|bench|node_modules|\.ferry|dist)\//.test(f));
    expect(stray, tarball).toEqual([]);
  }
  const hostFiles = await tarballFiles(tarballs[5]!);
  expect(hostFiles).toEqual(expect.arrayContaining(['main.js', 'index.d.ts', 'server.js.map', 'db/migrations/0001_init.sql']));
  // The app-side client has no dependencies at all.
  const clientManifest = JSON.parse((await sh('tar', ['-xzOf', tarballs[2]!, 'package/package.json'], tmp)).stdout) as Record<string, unknown>;
  expect(clientManifest['dependencies']).toBeUndefined();
  expect(clientManifest['exports']).toMatchObject({ '.': { types: './index.d.ts', default: './index.js' } });

  // A fresh project: `npm init -y`, a vitest cache folder, the tarballs installed from the registry's dependencies.
  const app = join(tmp, 'my-scripts');
  await mkdir(join(app, 'node_modules/.vite'), { recursive: true });
  expect((await sh('npm', ['init', '-y'], app)).code).toBe(0);
  const installed = await sh('npm', ['install', '--no-audit', '--no-fund', ...tarballs], app);
  expect(installed.stderr).not.toMatch(/ERR!/);
  expect(installed.code).toBe(0);

  // The installed host loads the repaired driver (no install script ran): its database module
  // imports @ferry/postgres, which resolves to the fork with the backend-loss repair in it, and no
  // upstream postgres.js is installed beside it to be picked up instead.
  const hostDir = join(app, 'node_modules/@ferry/host');
  expect(await readFile(join(hostDir, 'db/connect.js'), 'utf8')).toMatch(/from '@ferry\/postgres'/);
  const driverEntry = createRequire(join(hostDir, 'package.json')).resolve('@ferry/postgres');
  expect(driverEntry).toBe(join(app, 'node_modules/@ferry/postgres/src/index.js'));
  for (const file of ['index.js', 'connection.js']) {
    expect(await readFile(join(dirname(driverEntry), file), 'utf8'), file).toContain('/* ferry-patch: backend loss */');
  }
  expect(existsSync(join(app, 'node_modules/postgres'))).toBe(false);

  const init = await sh('npx', ['ferry', 'init'], app);
  expect(init.code).toBe(0);
  expect(init.stdout).toMatch(/npm test/);
  const manifest = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
  expect(manifest.dependencies['ferry']).toMatch(/ferry-0\.1\.0\.tgz$/); // what was installed is kept
  expect(manifest.dependencies['zod']).toBeDefined();
  expect(manifest.scripts['test']).toBe('vitest run');
  // The install-script policy init writes covers every package with install scripts that
  // installing ferry brought in: npm lists none as unreviewed (npm 11 warns on each install otherwise).
  const unreviewed = await sh('npm', ['install-scripts', 'ls', '--json'], app);
  expect(unreviewed.code, unreviewed.stderr).toBe(0);
  expect(JSON.parse(unreviewed.stdout)).toEqual({ allowScripts: [] });
  const tsconfig = await readFile(join(app, 'tsconfig.json'), 'utf8');
  // Nothing of this checkout: every path the tsconfig names is the project's own (node_modules included).
  expect(tsconfig).not.toMatch(/wt-|\/work\/|"\//);
  // The project's own tsconfig (what an editor and plain tsc use) knows the isolate's globals, even
  // in a helper that imports nothing; and still no Node.
  await mkdir(join(app, 'scripts/demo/helpers'), { recursive: true });
  const helper = join(app, 'scripts/demo/helpers/web.ts');
  await writeFile(helper, [
    "export const next = new URL('https://x.test/items?page=2').searchParams.get('page');",
    "export const query = new URLSearchParams({ a: '1' }).toString();",
    "export const bytes = new TextEncoder().encode('é'); export const text = new TextDecoder().decode(bytes);",
    "export const b64 = btoa('hi') + atob('aGk='); export const copy = structuredClone({ a: 1 }); export const id = crypto.randomUUID();",
    'export const wait = (ms: number) => new Promise<void>((done) => { const t = setTimeout(done, ms); if (ms < 0) clearTimeout(t); });',
    'export const signal = new AbortController().signal;',
  ].join('\n'));
  const tsc = (cwd: string) => sh(process.execPath, [join(cwd, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], cwd);
  const webGlobals = await tsc(app);
  expect(webGlobals.stdout).toBe('');
  expect(webGlobals.code).toBe(0);
  // It knows the Node built-ins the bundler gives scripts, as `ferry compile` checks them (Buffer, crypto's hashes, url)…
  await writeFile(helper, [
    "import { createHash, createHmac } from 'node:crypto';",
    "import { URLSearchParams as Params } from 'url';",
    "import { Buffer as Bytes } from 'buffer';",
    "export const size = Buffer.byteLength('x') + Bytes.from('eA', 'base64url').length;",
    "export const digest = createHash('sha256').update('x').digest('base64url') + createHmac('sha1', 'k').update(Buffer.from('x')).digest('hex');",
    "export const query = new Params({ a: '1' }).toString();",
  ].join('\n'));
  const shims = await tsc(app);
  expect(shims.stdout).toBe('');
  expect(shims.code).toBe(0);
  // …and still no Node beyond them.
  await writeFile(helper, "export const env = process.env['X'];\nexport { createSign } from 'crypto';");
  const node = (await tsc(app)).stdout;
  expect(node).toMatch(/Cannot find name 'process'/);
  expect(node).toMatch(/has no exported member 'createSign'/);
  await rm(join(app, 'scripts/demo/helpers'), { recursive: true });

  // The example test, in the project `npm init -y` made (`"type": "commonjs"`, which init keeps): replayed in the installed runtime.
  expect(manifest).toMatchObject({ type: 'commonjs' });
  const tested = await sh('npm', ['test'], app);
  expect(tested.code, tested.stdout + tested.stderr).toBe(0);
  expect(tested.stdout).toMatch(/1 passed/);

  const compiled = await sh('npx', ['ferry', 'compile', '--json'], app);
  expect(compiled.stderr).not.toMatch(/error/);
  expect(compiled.code).toBe(0);
  expect(JSON.parse(compiled.stdout)).toMatchObject({ ok: true, typechecked: true });

  // A host from the installed package, on this machine's Postgres, with the same environment variables as production.
  db = await createTestDatabase('ferry_packages');
  host = spawn('npx', ['ferry', 'start'], {
    cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    env: { ...process.env, PATH, DATABASE_URL: db.url, FERRY_SECRET_KEY: KEY, FERRY_PORT: '0', FERRY_LOG_LEVEL: 'warn', FERRY_DATA_DIR: join(app, '.ferry') },
  });
  let hostOut = '';
  host.stdout!.on('data', (d) => { hostOut += d; });
  host.stderr!.on('data', (d) => { hostOut += d; });
  const url = await waitFor('the packaged host', async () => {
    if (host!.exitCode !== null) throw new Error(`ferry start exited with ${host!.exitCode}: ${hostOut}`);
    return /Ferry is running at (http:\/\/\S+)/.exec(hostOut)?.[1];
  }, 60_000);
  const env = { FERRY_URL: url, FERRY_SECRET_KEY: KEY };

  provider = await startDemoProvider({ apiKey: 'demo-key', contacts: 120 });
  const api = createApiClient(url, KEY);
  expect((await api.put('/providers/demo', { base_url: provider.baseUrls.demo, auth: { type: 'bearer' } })).status).toBe(200);
  const connected = await sh('npx', ['ferry', 'connections', 'create', 'demo-connection', '--provider', 'demo', '--credentials', '{"type":"bearer","token":"demo-key"}'], app, env);
  expect(connected.code).toBe(0);

  const deployed = await sh('npx', ['ferry', 'deploy', '--yes', '--json'], app, env);
  expect(deployed.code).toBe(0);
  expect(JSON.parse(deployed.stdout)).toMatchObject({ version: 1 });

  const dryrun = await sh('npx', ['ferry', 'dryrun', 'contacts', '--connection', 'demo-connection', '--full', '--json'], app, env);
  expect(dryrun.code).toBe(0);
  expect(JSON.parse(dryrun.stdout)).toMatchObject({ ok: true, models: { Contact: { count: 120 } } });

  expect((await api.post('/syncs/contacts/trigger', { connection_id: 'demo-connection' })).status).toBeLessThan(300);
  const run = await waitForRun(api, 'demo-connection', 'contacts', '0', 60_000);
  expect(run.status).toBe('succeeded');

  // The app: plain Node, only @ferry/client.
  await writeFile(join(app, 'app.mjs'), `import { createFerryClient } from '@ferry/client';
const client = createFerryClient({ url: process.env.FERRY_URL, secretKey: process.env.FERRY_SECRET_KEY });
const ids = [];
for await (const record of client.records({ connectionId: 'demo-connection', model: 'Contact' })) ids.push(record.id);
console.log(JSON.stringify({ count: ids.length, first: ids[0] }));
`);
  const read = await sh(process.execPath, ['app.mjs'], app, env);
  expect(read.stderr).toBe('');
  expect(JSON.parse(read.stdout)).toEqual({ count: 120, first: expect.stringMatching(/^ct_/) });
}, 600_000); // ~2.5 min on a quiet machine: a clean build, npm install from the registry cache, a host start
