/**
 * `ferry deploy` type-checks every script as `ferry compile` does (and as Nango's deploy does)
 * before anything is sent, against a real host: a type error deploys nothing and is named at
 * file:line:col, `--no-typecheck` deploys anyway, and `--partial` leaves out just the scripts
 * whose own files, or the files they import (type-only imports too), have errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runFerry, writeFiles } from '../helpers/cli-process.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

/** A sync of `model`, whose record is built by `record` (a TypeScript expression over `item`). */
const sync = (description: string, record = '({ id: String(item.id) })', imports = '') => `
import { createSync } from 'nango';
import { z } from 'zod';
${imports}
export default createSync({
  description: ${JSON.stringify(description)},
  frequency: 'every day',
  autoStart: false,
  models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const res = await nango.get<Array<{ id: number }>>({ endpoint: '/items' });
    await nango.batchSave(res.data.map((item) => ${record}), 'Item');
  },
});`;

let ferry: TestFerry;
let dir: string;

const write = (files: Record<string, string>) => writeFiles(dir, files);
const cli = (...args: string[]) => runFerry(['deploy', '--dir', dir, '--yes', ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY]);
const active = async () => Object.fromEntries(((await ferry.api.get('/scripts')).body.scripts as any[]).map((s) => [`${s.provider}/${s.name}`, s.manifest.description]));

beforeAll(async () => {
  ferry = await startTestFerry();
  dir = await mkdtemp(join(tmpdir(), 'ferry-deploy-typecheck-'));
  await write({
    'crm/syncs/accounts.ts': sync('accounts v1'),
    'crm/syncs/people.ts': sync('people v1'),
    'crm/syncs/teams.ts': sync('teams v1'),
    'crm/types.ts': 'export interface Team { id: string }\n',
  });
  expect((await cli()).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a type error deploys nothing: each error at file:line:col, and how to skip the check', async () => {
  // A record the model refuses (id: number where the schema says string) bundles and would fail every run.
  await write({ 'crm/syncs/accounts.ts': sync('accounts v2', '({ id: item.id })'), 'crm/syncs/people.ts': sync('people v2') });
  const run = await cli();
  expect(run.code, run.stderr).toBe(3);
  expect(run.stderr).toContain(`${join(dir, 'crm/syncs/accounts.ts')}:12:27 TS2345: Argument of type '{ id: number; }[]' is not assignable to parameter of type '{ id: string; }[]'`);
  expect(run.stderr).toContain("Type 'number' is not assignable to type 'string'");
  expect(run.stderr).toMatch(/1 type error\(s\) in 3 script\(s\): nothing was deployed\. .*--no-typecheck/);
  expect(await active()).toEqual({ 'crm/accounts': 'accounts v1', 'crm/people': 'people v1', 'crm/teams': 'teams v1' });
}, 120_000);

test('--json says the type-check stopped it, with every diagnostic', async () => {
  const run = await cli('--json');
  expect(run.code).toBe(3);
  const body = JSON.parse(run.stdout);
  expect(body).toMatchObject({ ok: false, stage: 'typecheck' });
  expect(body.diagnostics).toEqual([expect.objectContaining({ file: join(dir, 'crm/syncs/accounts.ts'), line: 12, code: 2345 })]);
}, 120_000);

test('--partial leaves out only the scripts whose files or imports have type errors; the others deploy (exit 8)', async () => {
  // teams imports a type whose file has the error (an import TypeScript sees and esbuild erases).
  await write({
    'crm/types.ts': 'export interface Team { id: string }\nexport const broken: number = "not a number";\n',
    'crm/syncs/teams.ts': sync('teams v2', '({ id: String(item.id) } satisfies Team)', "import type { Team } from '../types.ts';"),
  });
  const run = await cli('--partial', '--json');
  expect(run.code, run.stderr).toBe(8);
  const body = JSON.parse(run.stdout);
  expect(body.failed.map((f: any) => [f.name, f.file])).toEqual([
    ['accounts', join(dir, 'crm/syncs/accounts.ts')],
    ['teams', join(dir, 'crm/syncs/teams.ts')],
  ]);
  expect(body.failed[0].message).toMatch(/^1 type error\(s\)\n.*accounts\.ts:12:\d+ TS2345/);
  expect(body.failed[1].message).toMatch(/types\.ts:2:\d+ TS2322: Type 'string' is not assignable to type 'number'/);
  expect(await active()).toEqual({ 'crm/accounts': 'accounts v1', 'crm/people': 'people v2', 'crm/teams': 'teams v1' });
}, 120_000);

test('--no-typecheck deploys a script with type errors as it bundles', async () => {
  const run = await cli('--no-typecheck');
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).not.toMatch(/type-checked/);
  expect(await active()).toEqual({ 'crm/accounts': 'accounts v2', 'crm/people': 'people v2', 'crm/teams': 'teams v2' });
}, 120_000);

test('scripts without type errors deploy as before, saying they were type-checked', async () => {
  await write({ 'crm/syncs/accounts.ts': sync('accounts v3'), 'crm/types.ts': 'export interface Team { id: string }\n' });
  const run = await cli();
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/type-checked 3 script\(s\)/);
  expect(await active()).toEqual({ 'crm/accounts': 'accounts v3', 'crm/people': 'people v2', 'crm/teams': 'teams v2' });
}, 120_000);
