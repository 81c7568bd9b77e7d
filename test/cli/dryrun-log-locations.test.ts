/**
 * A script that logs the Error it caught gets, in `ferry dryrun` and `ferry/testing`, the same log
 * line the host stores for a deployed run: the stack names the script's own `.ts` file:line:col,
 * never the bundle's `file:///script.js`. Against a real host (real Postgres) and a real provider
 * server on 127.0.0.1; the host's own run is checked too, so the three paths are compared.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { BUNDLE_URL, createRuntime, type LogEntry, type Runtime } from '../../runtime/index.ts';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

// Line 10 holds the JSON.parse, line 16 the throw (the file's own numbering).
const SCRIPT = `import { createSync } from 'ferry/sdk';
import { z } from 'zod';

export default createSync({
  description: 'logs what it caught', frequency: 'every hour', models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get<{ items: Array<{ id: string }> }>({ endpoint: '/items' });
    await nango.batchSave(res.data.items.map((i) => ({ id: i.id })), 'Item');
    try {
      JSON.parse('{not json');
    } catch (err) {
      await nango.log('could not read the page:', err, { level: 'warn' });
    }
    console.error(new Error('second thought'));
    await nango.log('plain line');
    throw new Error('gave up after ' + res.data.items.length);
  },
});
`;

let provider: ItemsProvider;
let ferry: TestFerry;
let runtime: Runtime;
let dir: string;
let script: string;
const logger = createLogger({ level: 'silent' });
const tester = createScriptTester();

beforeAll(async () => {
  provider = await startItemsProvider(3);
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/itemsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'items-1', provider: 'itemsp' })).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'ferry-log-locations-'));
  script = join(dir, 'itemsp', 'syncs', 'noisy.ts');
  await mkdir(join(dir, 'itemsp', 'syncs'), { recursive: true });
  await writeFile(script, SCRIPT);
}, 120_000);
afterAll(async () => {
  await tester.close();
  await runtime?.close();
  await ferry?.close();
  await provider?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The caught SyntaxError's line, the console.error line, the plain line: each checked for where it points. */
function expectMapped(logs: LogEntry[], file: RegExp) {
  const caught = logs.find((l) => l.message.startsWith('could not read the page:'));
  expect(caught?.level).toBe('warn');
  expect(caught!.message).toMatch(/SyntaxError/);
  expect(caught!.message).toMatch(new RegExp(`${file.source}:10:\\d+`));
  const second = logs.find((l) => l.message.includes('second thought'));
  expect(second?.level).toBe('error');
  expect(second!.message).toMatch(new RegExp(`${file.source}:14:\\d+`));
  expect(logs.find((l) => l.message === 'plain line')).toBeDefined();
  for (const line of logs) expect(line.message).not.toContain(BUNDLE_URL);
}

test('ferry dryrun: printed and returned log lines name noisy.ts, as does the error', async () => {
  const printed: LogEntry[] = [];
  const run = await dryRun({ name: 'noisy', connectionId: 'items-1', dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime, onLog: (entries) => printed.push(...entries) });
  expect(run.result.ok).toBe(false);
  expectMapped(printed, /noisy\.ts/);
  expectMapped(run.result.logs, /noisy\.ts/);
  expect(run.result.ok ? null : run.result.error).toMatchObject({ message: 'gave up after 3', location: { file: expect.stringMatching(/noisy\.ts$/), line: 16 } });
});

test('ferry/testing: the run\'s logs name noisy.ts, as does the error', async () => {
  const run = await tester.run({ script, proxy: liveProxy({ baseUrl: provider.url }) });
  expect(run.records('Item')).toHaveLength(3);
  expectMapped(run.logs, /noisy\.ts/);
  expect(run.error).toMatchObject({ message: 'gave up after 3', location: { file: script, line: 16 } });
});

test('the host stores the same lines for the deployed script (scripts/itemsp/syncs/noisy.ts)', async () => {
  await deploySources(ferry, { 'itemsp/syncs/noisy.ts': SCRIPT });
  expect((await ferry.api.post('/syncs/noisy/trigger', { connection_id: 'items-1' })).status).toBeLessThan(300);
  const run = await waitForRun(ferry.api, 'items-1', 'noisy');
  expect(run.status).toBe('failed');
  const { body } = await ferry.api.get(`/runs/${run.id}/logs`);
  expectMapped(body.logs, /scripts\/itemsp\/syncs\/noisy\.ts/);
});
