import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, bundleScript, discoverScripts } from '../../cli/bundle.ts';

const REPO = resolve(import.meta.dirname, '../..');
const SDK = join(REPO, 'sdk/index.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-bundle-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, source: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, source);
  return path;
}

async function bundleError(entry: string, options?: { maxBytes?: number }): Promise<BundleError> {
  const error = await bundleScript(entry, options).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

/** Evaluates a bundle the way the runtime does (a context with no Node globals) and reads its definition. */
function definitionOf(code: string): Record<string, unknown> {
  const sandbox: Record<string, unknown> = {};
  runInNewContext(`${code}\n;globalThis.__result = __ferry_module.default;`, sandbox);
  return sandbox['__result'] as Record<string, unknown>;
}

describe('bundleScript', () => {
  it('bundles the contacts example, zod included, into an IIFE defining __ferry_module', async () => {
    const bundle = await bundleScript(join(REPO, 'scripts/demo/syncs/contacts.ts'));
    expect(bundle.code).toMatch(/var __ferry_module\s*=/);
    expect(bundle.code).not.toMatch(/\brequire\(|\bimport\s*\(|from\s*["']zod["']/);
    expect(bundle.bytes).toBe(Buffer.byteLength(bundle.code));
    expect(bundle.hash).toMatch(/^[0-9a-f]{64}$/);
    const definition = definitionOf(bundle.code);
    expect(definition).toMatchObject({ type: 'sync', frequency: 'every 1 minute', syncType: 'incremental' });
    expect(Object.keys(definition['models'] as object)).toEqual(['Contact']);
  });

  it('gives the same hash for the same source', async () => {
    const entry = join(REPO, 'scripts/demo/actions/create-contact.ts');
    const [a, b] = await Promise.all([bundleScript(entry), bundleScript(entry)]);
    expect(a.hash).toBe(b.hash);
    expect(definitionOf(a.code)).toMatchObject({ type: 'action' });
  });

  it('bundles a Nango script unchanged: `nango` resolves to the Ferry SDK', async () => {
    const entry = await script(
      'nango-sync.ts',
      `import { createSync } from 'nango';
       import * as z from 'zod';
       export default createSync({ description: 'from nango', frequency: 'every hour', models: { Thing: z.object({ id: z.string() }) }, exec: async () => {} });`,
    );
    const definition = definitionOf((await bundleScript(entry)).code);
    expect(definition).toMatchObject({ type: 'sync', description: 'from nango' });
  });

  it('refuses node:fs, naming the import, the importing file and line, and a hint', async () => {
    const entry = await script('reads-files.ts', `import { createSync } from '${SDK}';\nimport { readFileSync } from 'node:fs';\nexport default readFileSync;`);
    const error = await bundleError(entry);
    expect(error.code).toBe('FORBIDDEN_IMPORT');
    expect(error.details).toHaveLength(1);
    expect(error.details[0]).toContain('"node:fs"');
    expect(error.details[0]).toContain(`${entry}:2:`);
    expect(error.message).toContain('ctx.get/post');
  });

  it('refuses bare built-in names such as child_process, even from a file the script imports', async () => {
    await script('lib/shell.ts', `import { exec } from 'child_process';\nexport const run = exec;`);
    const entry = await script('uses-shell.ts', `import { run } from './lib/shell.ts';\nexport default run;`);
    const error = await bundleError(entry);
    expect(error.code).toBe('FORBIDDEN_IMPORT');
    expect(error.details[0]).toContain('"child_process"');
    expect(error.details[0]).toContain(`${join(dir, 'lib/shell.ts')}:1:`);
  });

  it('reports a syntax error as BUNDLE_FAILED with file:line:col', async () => {
    const entry = await script('broken.ts', `export default {\n  oops: ,\n};`);
    const error = await bundleError(entry);
    expect(error.code).toBe('BUNDLE_FAILED');
    expect(error.details[0]).toMatch(new RegExp(`^${entry.replaceAll('.', '\\.')}:2:\\d+ `));
  });

  it('refuses a bundle over maxBytes with TOO_LARGE', async () => {
    const error = await bundleError(join(REPO, 'scripts/demo/syncs/contacts.ts'), { maxBytes: 10_000 });
    expect(error.code).toBe('TOO_LARGE');
  });
});

describe('discoverScripts', () => {
  it('finds syncs and actions per provider and skips tests', async () => {
    const root = join(dir, 'layout');
    await script('layout/crm/syncs/people.ts', 'export default 1;');
    await script('layout/crm/syncs/people.test.ts', 'export default 1;');
    await script('layout/crm/actions/add-person.ts', 'export default 1;');
    await script('layout/crm/README.md', '# not a script');
    expect(await discoverScripts(root)).toEqual([
      { name: 'add-person', provider: 'crm', kind: 'action', entryPath: join(root, 'crm/actions/add-person.ts') },
      { name: 'people', provider: 'crm', kind: 'sync', entryPath: join(root, 'crm/syncs/people.ts') },
    ]);
  });

  it('lists the repository examples', async () => {
    const found = await discoverScripts(join(REPO, 'scripts'));
    expect(found.map((s) => `${s.provider}/${s.kind}/${s.name}`)).toEqual([
      'billing/sync/invoices', 'chat/action/post-message', 'demo/action/create-contact', 'demo/sync/contacts', 'helpdesk/sync/tickets',
    ]);
  });
});
