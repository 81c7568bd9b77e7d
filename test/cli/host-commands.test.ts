/**
 * `ferry deploy` (preview, then apply), `ferry runs` and `ferry logs --follow` as a user runs
 * them, against a whole host on Postgres and the demo providers. Each test (and each attempt of
 * one) makes the environment, scripts' folder, deploys and connection it needs, so CI's retry of
 * any of them starts as its first attempt did.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';
import { newEnvironment, startTestFerry, waitForRun, type ApiClient, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
const ADMIN_KEY = 'admin_key_host_commands_0123456789';
let ferry: TestFerry;
let provider: DemoProvider;
const dirs: string[] = [];

beforeAll(async () => {
  [ferry, provider] = await Promise.all([startTestFerry({ FERRY_ADMIN_KEY: ADMIN_KEY }), startDemoProvider({ apiKey: 'pk', contacts: 5, invoices: 120 })]);
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface CliEnvironment {
  /** The scripts' folder: a copy of the example billing and chat scripts. */
  dir: string;
  api: ApiClient;
  /** The CLI binary against the host with the environment's key, --json. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr?: string }>;
}

/** A fresh environment with the billing provider configured, and a fresh copy of the example scripts. */
async function freshEnvironmentAndScripts(): Promise<CliEnvironment> {
  const { key, api } = await newEnvironment(ferry, 'cli-host', { adminKey: ADMIN_KEY });
  expect((await api.put('/providers/billing', { base_url: provider.baseUrls.billing, auth: { type: 'bearer' } })).status).toBe(200);
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cli-host-'));
  dirs.push(dir);
  const filter = (src: string) => !src.endsWith('.test.ts') && !src.includes('fixtures');
  await cp(join(REPO, 'scripts/billing'), join(dir, 'billing'), { recursive: true, filter });
  await cp(join(REPO, 'scripts/chat'), join(dir, 'chat'), { recursive: true, filter });
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', key, '--json'], { cwd: REPO }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
  return { dir, api, cli };
}

/** freshEnvironmentAndScripts, its scripts deployed (version 1), and connection billing-1 once its first run has succeeded. */
async function deployedWithConnection(): Promise<CliEnvironment & { firstRun: { id: string } }> {
  const env = await freshEnvironmentAndScripts();
  expect(await env.cli('deploy', '--dir', env.dir)).toMatchObject({ code: 0 });
  expect((await env.api.post('/connections', { connection_id: 'billing-1', provider: 'billing', credentials: { type: 'bearer', token: 'pk' } })).status).toBe(201);
  const firstRun = await waitForRun(env.api, 'billing-1', 'invoices', '0', 60_000);
  expect(firstRun.status).toBe('succeeded');
  return { ...env, firstRun };
}

/** The model renamed and the chat action dropped from `dir`: the second version test 1 deploys. */
async function renameModelAndDropChat(dir: string): Promise<void> {
  const sync = join(dir, 'billing/syncs/invoices.ts');
  await writeFile(sync, (await readFile(sync, 'utf8')).replaceAll("'Invoice'", "'BillingInvoice'").replace('models: { Invoice:', 'models: { BillingInvoice:'));
  await rm(join(dir, 'chat'), { recursive: true });
}

/** Each CLI call bundles or talks to the host in a process of its own: on a loaded machine a few of them outlast 60 s. */
const CLI_TEST_TIMEOUT_MS = 180_000;

it('deploy previews new, changed and removed scripts with their models before applying, and applies only without --dry-run', async () => {
  const { dir, api, cli } = await freshEnvironmentAndScripts();
  const preview = await cli('deploy', '--dir', dir, '--dry-run');
  expect(preview.code).toBe(0);
  expect(JSON.parse(preview.stdout).plan).toMatchObject({ addedModels: ['Invoice'], removedModels: [], empty: false });
  expect((await api.get('/scripts')).body.scripts).toEqual([]);

  const applied = await cli('deploy', '--dir', dir);
  expect(applied.code).toBe(0);
  expect(JSON.parse(applied.stdout)).toMatchObject({ ok: true, version: 1 });

  // Rename the model and drop the chat action: the preview names both before anything changes.
  await renameModelAndDropChat(dir);
  // Removing a deployed script needs consent outside a terminal: --prune (test/cli/deploy-prune.test.ts).
  const second = JSON.parse((await cli('deploy', '--dir', dir, '--dry-run', '--prune')).stdout);
  expect(second.plan.scripts).toEqual(expect.arrayContaining([
    expect.objectContaining({ name: 'invoices', status: 'changed', addedModels: ['BillingInvoice'], removedModels: ['Invoice'] }),
    expect.objectContaining({ name: 'post-message', status: 'removed' }),
  ]));
  expect(second.plan.removedModels).toEqual(['Invoice']);
  const again = JSON.parse((await cli('deploy', '--dir', dir, '--prune')).stdout);
  expect(again.version).toBe(2);
}, CLI_TEST_TIMEOUT_MS);

it('runs lists a sync run with its counts, and logs --follow prints its lines and how it ended', async () => {
  const { cli, firstRun: run } = await deployedWithConnection();

  const runs = await cli('runs', '--connection', 'billing-1');
  expect(runs.code).toBe(0);
  expect(JSON.parse(runs.stdout).runs[0]).toMatchObject({ id: run.id, sync: 'invoices', status: 'succeeded', counts: { added: 120 } });

  const logs = await cli('logs', run.id, '--follow');
  expect(logs.code).toBe(0);
  const lines = logs.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.filter((l) => l.type === 'log').map((l) => l.message)).toContain('Read 120 invoice(s)');
  expect(lines.at(-1)).toMatchObject({ type: 'run', id: run.id, status: 'succeeded' });

  expect((await cli('runs', '--connection', 'nope')).code).toBe(1);
  expect((await cli('logs', 'abc')).code).toBe(2);
}, CLI_TEST_TIMEOUT_MS);

it('trigger --follow prints the new run id and follows it to its end; providers lists the configured ones', async () => {
  const { cli, firstRun: before } = await deployedWithConnection();
  const followed = await cli('trigger', 'invoices', '--connection', 'billing-1', '--full', '--follow');
  expect(followed.code).toBe(0);
  const lines = followed.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const started = lines.find((l) => l.type === 'started');
  expect(Number(started.run_id)).toBeGreaterThan(Number(before.id));
  expect(lines.filter((l) => l.type === 'log').map((l) => l.message)).toContain('Read 120 invoice(s)');
  expect(lines.at(-1)).toMatchObject({ type: 'run', id: started.run_id, status: 'succeeded' });

  const providers = JSON.parse((await cli('providers')).stdout);
  expect(providers.providers).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'billing', base_url: provider.baseUrls.billing, auth: { type: 'bearer' } })]));
  expect(JSON.parse((await cli('providers', 'billing')).stdout)).toMatchObject({ name: 'billing' });
  expect((await cli('providers', 'nope')).code).toBe(1);
}, CLI_TEST_TIMEOUT_MS);

it('deploys lists the versions with the active one; rollback makes an earlier one active as a new version', async () => {
  // Version 1 the example scripts, version 2 without the chat action and its model renamed.
  const { dir, api, cli } = await freshEnvironmentAndScripts();
  expect(await cli('deploy', '--dir', dir)).toMatchObject({ code: 0 });
  await renameModelAndDropChat(dir);
  expect(await cli('deploy', '--dir', dir, '--prune')).toMatchObject({ code: 0 });

  const listed = JSON.parse((await cli('deploys')).stdout);
  expect(listed.deploys.map((d: { version: number; active: boolean }) => [d.version, d.active])).toEqual([[2, true], [1, false]]);

  const rolled = await cli('rollback', '1');
  expect(rolled.code).toBe(0);
  expect(JSON.parse(rolled.stdout)).toMatchObject({ ok: true, version: 3, rollback_of: 1 });
  expect((await api.get('/scripts')).body.scripts.map((s: { name: string }) => s.name).sort()).toEqual(['invoices', 'post-message']);
  const after = JSON.parse((await cli('deploys')).stdout);
  expect(after.deploys[0]).toMatchObject({ version: 3, active: true, rollback_of: 1 });

  expect((await cli('rollback', '99')).code).toBe(1);
  expect((await cli('rollback', 'latest')).code).toBe(2);
}, CLI_TEST_TIMEOUT_MS);
