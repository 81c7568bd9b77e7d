/**
 * `ferry deploy` in scripts and CI (no TTY): deployed scripts the project does not have (the demo's)
 * stay deployed unless removing them was agreed to with --prune or --yes, and deploy names them.
 * The real CLI against a whole host on Postgres.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let ferry: TestFerry;
let both: string;
let billingOnly: string;

beforeAll(async () => {
  ferry = await startTestFerry();
  const filter = (src: string) => !src.endsWith('.test.ts') && !src.includes('fixtures');
  both = await mkdtemp(join(tmpdir(), 'ferry-cli-prune-both-'));
  billingOnly = await mkdtemp(join(tmpdir(), 'ferry-cli-prune-billing-'));
  await cp(join(REPO, 'scripts/demo'), join(both, 'demo'), { recursive: true, filter });
  await cp(join(REPO, 'scripts/billing'), join(both, 'billing'), { recursive: true, filter });
  await cp(join(REPO, 'scripts/billing'), join(billingOnly, 'billing'), { recursive: true, filter });
});
afterAll(async () => {
  await ferry?.close();
  for (const dir of [both, billingOnly]) if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  // stdin is a pipe here, never a TTY: the CI case.
  return promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}
const deployed = async () => (await ferry.api.get('/scripts')).body.scripts.map((s: { provider: string; name: string }) => `${s.provider}/${s.name}`).sort();

it('without --prune or --yes, deploy keeps the deployed scripts the project lacks and says which and how to remove them', async () => {
  expect((await cli('deploy', '--dir', both, '--yes')).code).toBe(0);
  expect(await deployed()).toEqual(['billing/invoices', 'demo/contacts', 'demo/create-contact']);

  const preview = await cli('deploy', '--dir', billingOnly, '--dry-run', '--json');
  expect(preview.code).toBe(0);
  const planned = JSON.parse(preview.stdout);
  expect(planned.kept).toEqual([{ provider: 'demo', kind: 'sync', name: 'contacts' }, { provider: 'demo', kind: 'action', name: 'create-contact' }]);
  expect(planned.plan.removedModels).toEqual([]);
  expect(planned.plan.scripts.filter((s: { status: string }) => s.status === 'removed')).toEqual([]);

  const text = await cli('deploy', '--dir', billingOnly);
  expect(text.code).toBe(0);
  expect(text.stdout).toContain('Kept (deployed, not in this project; ferry deploy --prune removes them): demo/syncs/contacts, demo/actions/create-contact');
  expect(text.stdout).toContain('Kept 2 deployed script(s) this project does not have (ferry deploy --prune removes them).');
  expect(text.stdout).not.toMatch(/removed/);
  expect(await deployed()).toEqual(['billing/invoices', 'demo/contacts', 'demo/create-contact']);

  const json = JSON.parse((await cli('deploy', '--dir', billingOnly, '--json')).stdout);
  expect(json).toMatchObject({ ok: true, kept: [{ name: 'contacts' }, { name: 'create-contact' }] });
  expect(json.scripts.filter((s: { status: string }) => s.status === 'removed')).toEqual([]);
  expect(await deployed()).toEqual(['billing/invoices', 'demo/contacts', 'demo/create-contact']);
}, 180_000);

it('--prune removes them; so does --yes', async () => {
  const pruned = JSON.parse((await cli('deploy', '--dir', billingOnly, '--prune', '--json')).stdout);
  expect(pruned.kept).toEqual([]);
  expect(pruned.scripts.filter((s: { status: string }) => s.status === 'removed').map((s: { name: string }) => s.name).sort()).toEqual(['contacts', 'create-contact']);
  expect(await deployed()).toEqual(['billing/invoices']);

  expect((await cli('deploy', '--dir', both, '--yes')).code).toBe(0);
  expect(await deployed()).toEqual(['billing/invoices', 'demo/contacts', 'demo/create-contact']);
  const yes = await cli('deploy', '--dir', billingOnly, '--yes');
  expect(yes.code).toBe(0);
  expect(yes.stdout).toMatch(/removed\s+sync\s+demo\/contacts/);
  expect(await deployed()).toEqual(['billing/invoices']);
}, 180_000);
