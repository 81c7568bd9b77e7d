/**
 * A script whose top level throws (`JSON.parse` of bad text at module level) reads the same on
 * every path a developer takes: `ferry compile`, `ferry dryrun`, `ferry/testing` and a deploy to
 * a real host (real Postgres) all name SCRIPT_LOAD_ERROR, the error's own message (not a wrapper)
 * and where it threw in the script's own file; a run of such a bundle in the runtime fails with
 * the same code and message. A module without a definition stays BAD_SCRIPT.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bundleScript } from '../../cli/bundle.ts';
import { DryRunError, dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { createScriptTester, liveProxy, ScriptLoadError } from '../../testing/index.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const BIN = resolve(import.meta.dirname, '../../cli/bin.ts');

// Line 5 holds the JSON.parse that throws while the module loads.
const THROWS = `import { createSync } from 'ferry/sdk';
import { z } from 'zod';

const raw = '{not json';
const settings = JSON.parse(raw) as { pageSize: number };

export default createSync({
  description: 'reads settings at load', frequency: 'every hour', models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    await nango.log(String(settings.pageSize));
  },
});
`;
const NO_DEFINITION = `export const nothing = 1;\n`;

let ferry: TestFerry;
let runtime: Runtime;
let project: string;
let scripts: string;
let expectedMessage: string;
const logger = createLogger({ level: 'silent' });
const tester = createScriptTester();

beforeAll(async () => {
  try {
    JSON.parse('{not json');
  } catch (error) {
    expectedMessage = (error as Error).message;
  }
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/loadp', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'load-1', provider: 'loadp' })).status).toBe(201);
  project = await mkdtemp(join(tmpdir(), 'ferry-load-error-'));
  scripts = join(project, 'scripts');
  await mkdir(join(scripts, 'loadp', 'syncs'), { recursive: true });
  await writeFile(join(scripts, 'loadp', 'syncs', 'settings.ts'), THROWS);
}, 120_000);
afterAll(async () => {
  await tester.close();
  await runtime?.close();
  await ferry?.close();
  if (project) await rm(project, { recursive: true, force: true });
});

const where = /scripts\/loadp\/syncs\/settings\.ts:5:\d+/;

test('ferry compile prints file:line:col: SCRIPT_LOAD_ERROR: the error\'s own message, and --json carries code and location', async () => {
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, 'compile', '--no-typecheck', ...args], { cwd: project }).then(
    () => ({ code: 0, stdout: '', stderr: '' }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  const printed = await run();
  expect(printed.code).toBe(3);
  expect(printed.stderr).toContain(`: SCRIPT_LOAD_ERROR: ${expectedMessage}`);
  expect(printed.stderr).toMatch(new RegExp(`error: ${where.source}: SCRIPT_LOAD_ERROR: `));
  expect(printed.stderr).not.toContain('the module must');
  const json = JSON.parse((await run('--json')).stdout);
  expect(json.problems).toEqual([expect.objectContaining({ code: 'SCRIPT_LOAD_ERROR', location: { file: 'scripts/loadp/syncs/settings.ts', line: 5, column: expect.any(Number) } })]);
});

test('ferry dryrun rejects with SCRIPT_LOAD_ERROR, the message and the location, before any call', async () => {
  const failure = await dryRun({ name: 'settings', connectionId: 'load-1', dir: scripts, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime }).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(DryRunError);
  const error = failure as DryRunError;
  expect(error.code).toBe('SCRIPT_LOAD_ERROR');
  expect(error.location).toMatchObject({ line: 5 });
  expect(error.location!.file).toMatch(/settings\.ts$/);
  expect(error.message).toMatch(new RegExp(`settings\\.ts:5:\\d+: SCRIPT_LOAD_ERROR: `));
  expect(error.message).toContain(expectedMessage);
});

test('ferry/testing rejects with a ScriptLoadError of the same code, message and location', async () => {
  const script = join(scripts, 'loadp', 'syncs', 'settings.ts');
  const failure = await tester.run({ script, proxy: liveProxy({ baseUrl: 'http://127.0.0.1:9' }) }).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ScriptLoadError);
  const error = failure as ScriptLoadError;
  expect(error.code).toBe('SCRIPT_LOAD_ERROR');
  expect(error.location).toMatchObject({ line: 5 });
  expect(error.message).toMatch(new RegExp(`settings\\.ts:5:\\d+: SCRIPT_LOAD_ERROR: `));
  expect(error.message).toContain(expectedMessage);
  expect(error.scriptStack).toMatch(/settings\.ts:5:\d+/);
});

describe('on the host', () => {
  test('the deploy is refused naming the file:line:col, SCRIPT_LOAD_ERROR and the message', async () => {
    const failure = await deploySources(ferry, { 'loadp/syncs/settings.ts': THROWS }).catch((e: unknown) => e as Error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(new RegExp(`${where.source}: SCRIPT_LOAD_ERROR: `));
    expect((failure as Error).message).toContain(expectedMessage);
    const { body } = await ferry.api.get('/syncs');
    expect(JSON.stringify(body)).not.toContain('settings');
  });

  test('a run of such a bundle fails with the same code and the error\'s own message', async () => {
    const { code } = await bundleScript(join(scripts, 'loadp', 'syncs', 'settings.ts'));
    const result = await runtime.run({ runId: 'load-run', kind: 'sync', code, limits: {}, context: { lastSyncDate: null, isFullRun: true, connection: { connection_id: 'c', provider: 'loadp', connection_config: {}, metadata: null }, checkpoint: null } }, {
      saveRecords: async () => ({ added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 }),
      proxy: async () => { throw new Error('no call expected'); },
      log: () => {},
      getMetadata: async () => ({}),
      setMetadata: async () => {},
      saveCheckpoint: async () => {},
    });
    expect(result.ok ? null : result.error).toMatchObject({ kind: 'script', code: 'SCRIPT_LOAD_ERROR', message: expectedMessage, stack: expect.stringContaining('SyntaxError') });
  });
});

test('a module with no definition stays BAD_SCRIPT on compile, dryrun and testing', async () => {
  const dir = join(project, 'other');
  await mkdir(join(dir, 'loadp', 'syncs'), { recursive: true });
  const script = join(dir, 'loadp', 'syncs', 'empty.ts');
  await writeFile(script, NO_DEFINITION);
  const dry = await dryRun({ name: 'empty', connectionId: 'load-1', dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime }).catch((e: unknown) => e as DryRunError);
  expect(dry).toMatchObject({ code: 'BAD_SCRIPT', message: expect.stringContaining(`${script}: BAD_SCRIPT: `) });
  const tested = await tester.run({ script, proxy: liveProxy({ baseUrl: 'http://127.0.0.1:9' }) }).catch((e: unknown) => e as ScriptLoadError);
  expect(tested).toMatchObject({ code: 'BAD_SCRIPT', message: expect.stringContaining(`${script}: BAD_SCRIPT: `) });
});
