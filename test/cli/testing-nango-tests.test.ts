/**
 * A Nango project's own tests run unmodified on Ferry: scripts in a Nango project's layout with
 * tests in the shape `nango generate:tests` writes and fixtures in the shape `nango dryrun --save`
 * records (test/fixtures/nango-project, written for Ferry), run by vitest in a project of their
 * own whose only Ferry-specific file is the vitest.config.ts the docs show
 * (`plugins: [nangoTests()]`). FERRY_NANGO_TEMPLATES=<integration-templates>/integrations with
 * FERRY_NANGO_TEMPLATES_PROVIDERS=a,b adds those providers of a local checkout (never committed). `createSync.exec(nangoMock)` runs each script in Ferry's
 * runtime, so what differs from Node (a Node-only global) fails there as it would deployed, and
 * a recorded save that differs from what the script saves fails its test.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const TEMPLATES = join(REPO, 'test/fixtures/nango-project');
const CHECKOUT = process.env.FERRY_NANGO_TEMPLATES;
const CHECKOUT_PROVIDERS = (process.env.FERRY_NANGO_TEMPLATES_PROVIDERS ?? '').split(',').filter(Boolean);

/** What vitest's json reporter writes, as far as these tests read it. */
interface VitestReport {
  numTotalTests: number;
  testResults: Array<{ name: string; assertionResults: Array<{ title: string; fullName: string; status: string; failureMessages: string[] }> }>;
}

let project: string;
let report: VitestReport;
let stderr = '';

/** Each assertion of the run whose file lies under `folder` (a path relative to the project). */
function resultsUnder(folder: string) {
  return report.testResults.filter((file) => file.name.startsWith(join(project, folder) + '/')).flatMap((file) => file.assertionResults);
}

/** A Nango-style script with its generated-style test and fixture, written into the project. */
async function writeCase(root: string, provider: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(project, root, provider, path, '..'), { recursive: true });
    await writeFile(join(project, root, provider, path), text);
  }
}

const SYNC_TEST = (name: string, model: string) => `
import { expect, it, vi } from 'vitest';
import createSync from '../syncs/${name}.js';
it('saves what the fixture recorded', async () => {
  const nangoMock = new global.vitest.NangoSyncMock({ dirname: __dirname, name: '${name}', Model: '${model}' });
  const batchSaveSpy = vi.spyOn(nangoMock, 'batchSave');
  await createSync.exec(nangoMock);
  const spied = JSON.parse(JSON.stringify(batchSaveSpy.mock.calls.flatMap((call) => (call[1] === '${model}' ? call[0] : []))));
  expect(spied).toStrictEqual(await nangoMock.getBatchSaveData('${model}'));
});
`;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'ferry-nango-tests-'));
  // The project exactly as it is, plus the config a Nango project adds to run them on Ferry.
  await cp(TEMPLATES, join(project, 'templates'), { recursive: true });
  for (const provider of CHECKOUT ? CHECKOUT_PROVIDERS : []) await cp(join(CHECKOUT!, provider), join(project, 'templates', provider), { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(project, 'node_modules'));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'nango-project', private: true, type: 'module' }));
  await writeFile(join(project, 'vitest.config.ts'), [
    "import { defineConfig } from 'vitest/config';",
    "import { nangoTests } from 'ferry/testing/vitest';",
    "export default defineConfig({ plugins: [nangoTests()], test: { setupFiles: 'templates/vitest.setup.ts', testTimeout: 120_000, maxWorkers: 2 } });",
  ].join('\n'));

  // A recorded save that is not what the script saves: its test must fail.
  await cp(join(TEMPLATES, 'acme-crm'), join(project, 'altered/acme-crm'), { recursive: true });
  const fixturePath = join(project, 'altered/acme-crm/tests/people.test.json');
  const fixture = JSON.parse(await readFile(fixturePath, 'utf8'));
  fixture.nango.batchSave.Person[0].email = 'someone-else@example.com';
  await writeFile(fixturePath, JSON.stringify(fixture));

  // process.env exists in Node, where Nango's mock runs exec, but not in the isolate a deploy runs it in.
  const pingFixture = { api: { get: { ping: { response: { ok: true, items: [{ id: 'p1' }] } } } }, nango: { batchSave: { Ping: [{ id: 'p1', encoded: 'cDE=' }] } } };
  await writeCase('isolate', 'acme', {
    'syncs/pings.ts': `import { createSync } from 'nango';
import { z } from 'zod';
export default createSync({ description: 'pings', frequency: 'every hour', models: { Ping: z.object({ id: z.string(), encoded: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get({ endpoint: '/ping' });
    await nango.batchSave(res.data.items.map((p) => ({ id: p.id, encoded: process.env.PING_ENCODING === 'hex' ? p.id : btoa(p.id) })), 'Ping');
  } });
`,
    'tests/acme-pings.test.ts': SYNC_TEST('pings', 'Ping'),
    'tests/pings.test.json': JSON.stringify(pingFixture),
    // The same script without process.env passes: the case above fails only for process.
    'syncs/pings-btoa.ts': `import { createSync } from 'nango';
import { z } from 'zod';
export default createSync({ description: 'pings', frequency: 'every hour', models: { Ping: z.object({ id: z.string(), encoded: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get({ endpoint: '/ping' });
    await nango.batchSave(res.data.items.map((p) => ({ id: p.id, encoded: btoa(p.id) })), 'Ping');
  } });
`,
    'tests/acme-pings-btoa.test.ts': SYNC_TEST('pings-btoa', 'Ping'),
    'tests/pings-btoa.test.json': JSON.stringify(pingFixture),
  });
  // A request the fixture never recorded fails the script's call, naming it and how to record it.
  await writeCase('missing', 'acme', {
    'syncs/pongs.ts': `import { createSync } from 'nango';
import { z } from 'zod';
export default createSync({ description: 'pongs', frequency: 'every hour', models: { Pong: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get({ endpoint: '/pongs', params: { page: '2' } });
    await nango.batchSave(res.data, 'Pong');
  } });
`,
    'tests/acme-pongs.test.ts': SYNC_TEST('pongs', 'Pong'),
    'tests/pongs.test.json': JSON.stringify({ api: { get: { pongs: { request: { params: { page: '1' } }, response: [{ id: 'x' }] } } }, nango: { batchSave: { Pong: [{ id: 'x' }] } } }),
  });

  // A recorded input the action's schema refuses: Nango's mock runs exec anyway, Ferry refuses it and says why.
  await writeCase('schema', 'acme', {
    'actions/rename-team.ts': `import { createAction } from 'nango';
import { z } from 'zod';
export default createAction({ description: 'rename', input: z.object({ id: z.string(), name: z.string() }), output: z.object({ id: z.string() }),
  exec: async (nango, input) => {
    const res = await nango.put({ endpoint: '/teams/' + input.id, data: { name: input.name } });
    return { id: String(res.data.id) };
  } });
`,
    'tests/acme-rename-team.test.ts': `
import { expect, it } from 'vitest';
import createAction from '../actions/rename-team.js';
it('renames the team', async () => {
  const nangoMock = new global.vitest.NangoActionMock({ dirname: __dirname, name: 'rename-team', Model: 'Team' });
  const output = await createAction.exec(nangoMock, await nangoMock.getInput());
  expect(output).toEqual(await nangoMock.getOutput());
});
`,
    'tests/rename-team.test.json': JSON.stringify({ input: { id: 42, name: 'Core' }, output: { id: '42' }, nango: {}, api: { put: { 'teams/42': { response: { id: 42 } } } } }),
  });

  // Tests that answer the script themselves: a spy on one method (a rejection carrying the
  // provider's 403, a call asserted with the script's own configuration), and a hand-made object
  // in place of Nango's mock.
  const upload = `import { createAction } from 'nango';
import { z } from 'zod';
export default createAction({ description: 'upload', input: z.object({ name: z.string(), text: z.string() }), output: z.object({ id: z.string() }),
  exec: async (nango, input) => {
    const created = await nango.post({ endpoint: '/files', data: { name: input.name }, retries: 3 });
    const id = String(created.data.id);
    try {
      await nango.patch({ endpoint: '/files/' + id + '/content', data: { text: input.text } });
    } catch (error) {
      // Refused outright: nothing was written, so the empty file goes. No answer at all: it may have been, so it stays.
      if (error.response?.status === 403) await nango.delete({ endpoint: '/files/' + id });
      throw error;
    }
    return { id };
  } });
`;
  await writeCase('hosts', 'acme-docs', {
    'actions/upload.ts': upload,
    'tests/upload.test.json': JSON.stringify({
      input: { name: 'notes.txt', text: 'hello' },
      output: { id: 'f1' },
      nango: {},
      api: {
        post: { files: { request: { data: { name: 'notes.txt' } }, response: { id: 'f1' } } },
        patch: { 'files/f1/content': { request: { data: { text: 'hello' } }, response: { ok: true } } },
        delete: { 'files/f1': { response: '' } },
      },
    }),
    'tests/acme-docs-upload.test.ts': `
import { expect, it, vi } from 'vitest';
import createAction from '../actions/upload.js';
const mock = () => new global.vitest.NangoActionMock({ dirname: __dirname, name: 'upload', Model: 'File' });
it('uploads, the spies seeing each call as the script configured it', async () => {
  const nangoMock = mock();
  expect(await createAction.exec(nangoMock, await nangoMock.getInput())).toEqual(await nangoMock.getOutput());
  expect(nangoMock.post).toHaveBeenCalledWith({ endpoint: '/files', data: { name: 'notes.txt' }, retries: 3 });
  expect(nangoMock.patch).toHaveBeenCalledTimes(1);
  expect(nangoMock.delete).not.toHaveBeenCalled();
});
it('deletes the file when the upload is refused', async () => {
  const nangoMock = mock();
  vi.spyOn(nangoMock, 'patch').mockRejectedValueOnce(Object.assign(new Error('Request failed with status code 403'), { response: { status: 403 } }));
  const deleteSpy = vi.spyOn(nangoMock, 'delete');
  await expect(createAction.exec(nangoMock, await nangoMock.getInput())).rejects.toThrow('Request failed with status code 403');
  expect(deleteSpy).toHaveBeenCalledWith(expect.objectContaining({ endpoint: '/files/f1' }));
});
it('keeps the file when the upload got no answer', async () => {
  const nangoMock = mock();
  vi.spyOn(nangoMock, 'patch').mockRejectedValueOnce(new Error('socket hang up'));
  await expect(createAction.exec(nangoMock, await nangoMock.getInput())).rejects.toThrow('socket hang up');
  expect(nangoMock.delete).not.toHaveBeenCalled();
});
it('runs with a hand-made nango in place of the mock', async () => {
  const nango = { post: vi.fn().mockResolvedValue({ data: { id: 7 } }), patch: vi.fn().mockResolvedValue({ data: {} }), ActionError: Error };
  expect(await createAction.exec(nango as any, { name: 'a.txt', text: 'x' })).toEqual({ id: '7' });
  expect(nango.patch).toHaveBeenCalledWith({ endpoint: '/files/7/content', data: { text: 'x' } });
  // One without the method the script calls says so.
  await expect(createAction.exec({ post: vi.fn().mockResolvedValue({ data: { id: 8 } }) } as any, { name: 'b.txt', text: 'y' })).rejects.toThrow("the test's nango has neither patch() nor proxy() to answer PATCH /files/8/content");
});
`,
  });

  const output = join(project, 'report.json');
  const vitest = join(REPO, 'node_modules/vitest/vitest.mjs');
  const child = spawn(process.execPath, [vitest, 'run', '--root', project, '--reporter=json', `--outputFile=${output}`], { cwd: project, env: { ...process.env, CI: '' } });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  await new Promise((resolve) => child.on('close', resolve));
  report = JSON.parse(await readFile(output, 'utf8').catch(() => `{"numTotalTests":0,"testResults":[]}`)) as VitestReport;
}, 600_000);

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

test("the project's tests all pass, unmodified, with their recorded fixtures", async () => {
  const results = resultsUnder('templates');
  // Every `it(` of the project's test files ran: none was skipped or failed to load.
  const testFiles = (await readdir(join(project, 'templates'), { recursive: true })).filter((f) => f.endsWith('.test.ts'));
  let expected = 0;
  for (const file of testFiles) expected += ((await readFile(join(project, 'templates', file), 'utf8')).match(/\bit\(/g) ?? []).length;
  expect(expected).toBeGreaterThanOrEqual(5);
  // Both recording layouts ran: `*.test.json` (acme-crm) and the older `mocks/` folders (acme-legacy).
  // acme-billing's sync uses Buffer and crypto, and dates from the clock its test freezes (vi.setSystemTime).
  // acme-tasks' tests mock paginate (a spy's pages, its on_page, its failure, a hand-made nango's) and read a connection recorded without metadata.
  expect(results.map((r) => r.fullName.split(' ')[0] ?? '').filter((name) => name.startsWith('acme-')).sort()).toEqual(['acme-billing', 'acme-crm', 'acme-crm', 'acme-crm', 'acme-crm', 'acme-crm', 'acme-legacy', 'acme-legacy', 'acme-tasks', 'acme-tasks', 'acme-tasks', 'acme-tasks']);
  expect(results.map((r) => [r.fullName, r.status, r.failureMessages.join('\n').slice(0, 2000)]), stderr.slice(-4000)).toEqual(results.map((r) => [r.fullName, 'passed', '']));
  expect(results).toHaveLength(expected);
});

test('a recorded save that differs from what the script saves fails its test; the rest of the copy still passes', () => {
  const altered = resultsUnder('altered');
  const save = altered.find((r) => r.fullName.includes('people') && r.fullName.includes('batchSave'));
  expect(save?.status, stderr.slice(-2000)).toBe('failed');
  expect(save?.failureMessages.join('\n')).toMatch(/to strictly equal/);
  // The same copy's action, whose fixture was left alone, passes: the failure is the altered record.
  expect(altered.find((r) => r.fullName.includes('create-person'))?.status).toBe('passed');
});

test("exec runs the script in Ferry's isolate: a Node-only global fails there, what the isolate has passes", () => {
  const results = resultsUnder('isolate');
  expect(results, stderr.slice(-2000)).toHaveLength(2);
  const byFile = (name: string) => report.testResults.find((file) => file.name.endsWith(`/isolate/acme/tests/${name}`))?.assertionResults[0];
  expect(byFile('acme-pings.test.ts')?.status).toBe('failed');
  expect(byFile('acme-pings.test.ts')?.failureMessages.join('\n')).toMatch(/process is not defined/);
  expect(byFile('acme-pings-btoa.test.ts')?.status).toBe('passed');
});

test("a recorded input the action's schema refuses fails its test, saying that Ferry checks it where Nango only warns", () => {
  const [result] = resultsUnder('schema');
  expect(result?.status, stderr.slice(-2000)).toBe('failed');
  expect(result?.failureMessages.join('\n')).toMatch(/invalid input: id: [^\n]*expected string[^\n]*\. Ferry checks an action's input against its input schema on every call[^\n]*validateActionInput flag is off by default/);
});

test("a test that answers the script itself is the script's host: a spied method, a rejection with the provider's status, a hand-made nango", () => {
  const results = resultsUnder('hosts');
  expect(results.map((r) => [r.title, r.status, r.failureMessages.join('\n').slice(0, 1500)]), stderr.slice(-2000)).toEqual([
    ['uploads, the spies seeing each call as the script configured it', 'passed', ''],
    ['deletes the file when the upload is refused', 'passed', ''],
    ['keeps the file when the upload got no answer', 'passed', ''],
    ['runs with a hand-made nango in place of the mock', 'passed', ''],
  ]);
});

test('a request the fixture did not record fails the call, naming the request and how to record it', () => {
  const [result] = resultsUnder('missing');
  expect(result?.status, stderr.slice(-2000)).toBe('failed');
  expect(result?.failureMessages.join('\n')).toMatch(/No mock found for GET \/pongs\?page=2[\s\S]*nango dryrun pongs/);
});
