/**
 * `ferry deploy --partial` against a real host: a script that does not bundle, or that the host
 * cannot read, is named with its file and message while the others deploy, the exit code says
 * "partial" (8), and the failing scripts keep the version deployed before. Without --partial one
 * failure deploys nothing.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { REPO, runFerry, writeFiles } from '../helpers/cli-process.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const sync = (description: string, frequency = 'every day') => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: ${JSON.stringify(description)},
  frequency: ${JSON.stringify(frequency)},
  autoStart: false,
  models: { Item: z.object({ id: z.string() }) },
  exec: async () => {},
});`;
const action = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({ description: 'ok', input: z.object({}), output: z.object({}), exec: async () => ({}) });`;

let ferry: TestFerry;
let dir: string;

const write = (files: Record<string, string>) => writeFiles(dir, files);
const cli = (...args: string[]) => runFerry(['deploy', '--dir', dir, '--yes', ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY]);
const active = async () => Object.fromEntries(((await ferry.api.get('/scripts')).body.scripts as any[]).map((s) => [`${s.provider}/${s.name}`, s.manifest.description]));

beforeAll(async () => {
  ferry = await startTestFerry();
  dir = await mkdtemp(join(tmpdir(), 'ferry-partial-'));
  await write({
    'crm/syncs/accounts.ts': sync('accounts v1'),
    'crm/syncs/broken.ts': sync('broken v1'),
    'crm/syncs/refused.ts': sync('refused v1'),
    'crm/actions/ping.ts': action,
  });
  expect((await cli()).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('without --partial, one script that does not bundle deploys nothing', async () => {
  await write({
    'crm/syncs/accounts.ts': sync('accounts v2'),
    'crm/syncs/broken.ts': `${sync('broken v2')}\nexport const oops = ;`,
    'crm/syncs/refused.ts': sync('refused v2', 'every blue moon'),
  });
  const run = await cli();
  expect(run.code).toBe(3);
  expect(await active()).toEqual({ 'crm/accounts': 'accounts v1', 'crm/broken': 'broken v1', 'crm/refused': 'refused v1', 'crm/ping': 'ok' });
}, 120_000);

test('with --partial, the others deploy, each failure is named by file and message, and the exit code is 8', async () => {
  const run = await cli('--partial');
  expect(run.code).toBe(8);
  expect(run.stdout).toMatch(/Not deployed \(2 failed/);
  expect(run.stdout).toContain(`${join(dir, 'crm/syncs/broken.ts')}: `);
  expect(run.stdout).toMatch(/broken\.ts:\d+:\d+/);
  expect(run.stdout).toMatch(new RegExp(`${join(dir, 'crm/syncs/refused.ts').replaceAll('/', '\\/')}: .*every blue moon`));
  // The failing scripts keep the version deployed before; nothing is removed.
  expect(await active()).toEqual({ 'crm/accounts': 'accounts v2', 'crm/broken': 'broken v1', 'crm/refused': 'refused v1', 'crm/ping': 'ok' });
}, 120_000);

test('--json lists the failures with their file', async () => {
  const run = await cli('--partial', '--json');
  expect(run.code).toBe(8);
  const body = JSON.parse(run.stdout);
  expect(body.ok).toBe(false);
  expect(body.failed.map((f: any) => [f.provider, f.name, f.file])).toEqual([
    ['crm', 'broken', join(dir, 'crm/syncs/broken.ts')],
    ['crm', 'refused', join(dir, 'crm/syncs/refused.ts')],
  ]);
  expect(body.failed[1].message).toMatch(/blue moon/);
}, 120_000);

test('--dry-run --partial previews a script that does not bundle as left out, not removed', async () => {
  const run = await cli('--partial', '--dry-run', '--json');
  expect(run.code).toBe(0);
  const body = JSON.parse(run.stdout);
  expect(body.plan.scripts.filter((s: any) => s.status === 'removed')).toEqual([]);
  expect(body.failed.map((f: any) => f.file)).toEqual([join(dir, 'crm/syncs/broken.ts')]);
}, 120_000);

test('when nothing bundles, --partial deploys nothing and says a script did not bundle (3)', async () => {
  const only = await mkdtemp(join(tmpdir(), 'ferry-partial-none-'));
  try {
    await mkdir(join(only, 'crm/syncs'), { recursive: true });
    await writeFile(join(only, 'crm/syncs/accounts.ts'), 'export default = ;');
    const run = await promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), 'deploy', '--dir', only, '--yes', '--partial', '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO })
      .then(() => ({ code: 0 }), (error: { code: number }) => ({ code: error.code }));
    expect(run.code).toBe(3);
    expect(Object.keys(await active())).toHaveLength(4);
  } finally {
    await rm(only, { recursive: true, force: true });
  }
}, 120_000);
