/**
 * `ferry trigger --follow` ends with how the run ended: changes per model, wall/CPU time, peak
 * heap, and the error of a failed run (exit 1). The real CLI against a whole host on Postgres and
 * the demo billing provider.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';
import { startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let ferry: TestFerry;
let provider: DemoProvider;
let dir: string;

function cli(...args: string[]) {
  return promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

beforeAll(async () => {
  [ferry, provider] = await Promise.all([startTestFerry(), startDemoProvider({ apiKey: 'pk', contacts: 5, invoices: 40 })]);
  dir = await mkdtemp(join(tmpdir(), 'ferry-cli-trigger-'));
  await cp(join(REPO, 'scripts/billing'), join(dir, 'billing'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') && !src.includes('fixtures') });
  await ferry.api.put('/providers/billing', { base_url: provider.baseUrls.billing, auth: { type: 'bearer' } });
  expect((await cli('deploy', '--dir', dir, '--yes')).code).toBe(0);
  await ferry.api.post('/connections', { connection_id: 'billing-ok', provider: 'billing', credentials: { type: 'bearer', token: 'pk' } });
  await ferry.api.post('/connections', { connection_id: 'billing-bad', provider: 'billing', credentials: { type: 'bearer', token: 'wrong' } });
  await waitForRun(ferry.api, 'billing-ok', 'invoices', '0', 60_000);
  await waitForRun(ferry.api, 'billing-bad', 'invoices', '0', 60_000);
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a succeeded run ends with its changes per model, wall and CPU time and peak heap (text and --json)', async () => {
  const text = await cli('trigger', 'invoices', '--connection', 'billing-ok', '--full', '--follow');
  expect(text.code).toBe(0);
  // A full run over the same 40 invoices changes none of them.
  expect(text.stderr).toMatch(/^run \d+ \(invoices\) succeeded in [\d.]+ m?s \(cpu [\d.]+ m?s, peak heap [\d.]+ MB\)$/m);
  expect(text.stderr).toMatch(/^ {2}Invoice +0 added, 0 updated, 0 deleted$/m);
  expect(text.stderr).toMatch(/^ {2}total +0 added, 0 updated, 0 deleted; 40 unchanged$/m);

  const json = await cli('trigger', 'invoices', '--connection', 'billing-ok', '--full', '--follow', '--json');
  expect(json.code).toBe(0);
  const last = JSON.parse(json.stdout.trim().split('\n').at(-1)!);
  expect(last).toMatchObject({
    type: 'run', status: 'succeeded', error: null, warnings: [],
    model_counts: { Invoice: { added: 0, updated: 0, deleted: 0 } },
    counts: { added: 0, updated: 0, deleted: 0, unchanged: 40 },
    usage: { wall_ms: expect.any(Number), cpu_ms: expect.any(Number), peak_heap_bytes: expect.any(Number) },
  });
  // The first run added them all: the API keeps the per-model counts of every settled run.
  const { runs } = (await ferry.api.get('/runs?connection_id=billing-ok&sync=invoices&limit=50')).body;
  expect(runs.at(-1)).toMatchObject({ status: 'succeeded', model_counts: { Invoice: { added: 40, updated: 0, deleted: 0 } } });
});

it('a failed run ends with its error and exits 1', async () => {
  const failed = await cli('trigger', 'invoices', '--connection', 'billing-bad', '--follow');
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/^run \d+ \(invoices\) failed in /m);
  expect(failed.stderr).toMatch(/^ {2}error [A-Z_]+: .+/m);
  const json = await cli('trigger', 'invoices', '--connection', 'billing-bad', '--follow', '--json');
  expect(json.code).toBe(1);
  const last = JSON.parse(json.stdout.trim().split('\n').at(-1)!);
  expect(last).toMatchObject({ type: 'run', status: 'failed', error: { code: expect.any(String) }, model_counts: { } });
});
