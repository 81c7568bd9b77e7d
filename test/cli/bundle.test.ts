import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as zod from 'zod';
import { BundleError, bundleScript, discoverScripts } from '../../cli/bundle.ts';
import * as sdk from '../../sdk/index.ts';

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

/** The modules the runtime provides to bundles (runtime/worker/prelude/modules.ts). */
const provided: Record<string, unknown> = { zod, 'zod/v4': zod, 'ferry/sdk': sdk, nango: sdk };

/** Evaluates a bundle the way the runtime does (a context with no Node globals) and reads its definition. */
function definitionOf(code: string): Record<string, unknown> {
  const sandbox: Record<string, unknown> = { __ferry_require: (name: string) => provided[name] };
  runInNewContext(`${code}\n;globalThis.__result = __ferry_module.default;`, sandbox);
  return sandbox['__result'] as Record<string, unknown>;
}

describe('bundleScript', () => {
  it('bundles the contacts example into a small IIFE defining __ferry_module; zod and the SDK come from the runtime', async () => {
    const bundle = await bundleScript(join(REPO, 'scripts/demo/syncs/contacts.ts'));
    expect(bundle.code).toMatch(/var __ferry_module\s*=/);
    expect(bundle.code).not.toMatch(/\brequire\(|\bimport\s*\(|from\s*["']zod["']/);
    expect(bundle.code).toContain('__ferry_require("zod")');
    expect(bundle.code).toContain('__ferry_require("ferry/sdk")');
    // Neither zod's code nor the SDK's is inside (zod alone was ~570 KB).
    expect(bundle.code).not.toMatch(/ZodString|class ActionError/);
    expect(bundle.bytes).toBeLessThan(10_000);
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

  it('bundles zod in when the script resolves a zod of another major version than the runtime\'s', async () => {
    await mkdir(join(dir, 'old-zod/node_modules/zod'), { recursive: true });
    await writeFile(join(dir, 'old-zod/node_modules/zod/package.json'), JSON.stringify({ name: 'zod', version: '3.25.0', main: 'index.js' }));
    await writeFile(join(dir, 'old-zod/node_modules/zod/index.js'), `exports.z = { marker: 'zod-3-of-this-project' };`);
    const entry = await script('old-zod/s.ts', `import { z } from 'zod';\nimport { createSync } from 'nango';\nexport default { marker: z.marker, createSync };`);
    const { code } = await bundleScript(entry);
    expect(code).not.toContain('__ferry_require("zod")');
    expect(code).toContain('__ferry_require("nango")');
    expect(definitionOf(code)).toMatchObject({ marker: 'zod-3-of-this-project' });
  });

  it('a package that needs Node built-ins fails with one message at the script\'s import of it, and what to do instead', async () => {
    const modules = join(dir, 'soap-project/node_modules');
    for (const [name, source] of [['soapish', `const http = require('http');\nconst fs = require('node:fs');\nrequire('saxish');\nmodule.exports = { createClient() {} };`], ['saxish', `require('stream');\nrequire('fs');\nmodule.exports = {};`]] as const) {
      await mkdir(join(modules, name), { recursive: true });
      await writeFile(join(modules, name, 'package.json'), JSON.stringify({ name, main: 'index.js' }));
      await writeFile(join(modules, name, 'index.js'), source);
    }
    const entry = await script('soap-project/scripts/calls-soap.ts', `import { createAction } from 'nango';\nimport { z } from 'zod';\nimport { createClient } from 'soapish';\nexport default createAction({ description: 'soap', input: z.object({}), output: z.unknown(), exec: async () => createClient() });`);
    const error = await bundleError(entry);
    expect(error.code).toBe('FORBIDDEN_IMPORT');
    expect(error.details).toEqual([
      `${entry}:3:30 "soapish" needs Node built-ins (through saxish): fs, http, stream. Scripts run in an isolate without Node: call the provider over HTTP with nango.get/post/proxy (a SOAP call is a POST of the XML envelope as text), and use packages that run without Node (pure JavaScript)`,
    ]);
    expect(error.message).not.toContain('node_modules');
  });

  it('reports a syntax error as BUNDLE_FAILED with file:line:col', async () => {
    const entry = await script('broken.ts', `export default {\n  oops: ,\n};`);
    const error = await bundleError(entry);
    expect(error.code).toBe('BUNDLE_FAILED');
    expect(error.details[0]).toMatch(new RegExp(`^${entry.replaceAll('.', '\\.')}:2:\\d+ `));
  });

  it('refuses a bundle over maxBytes with TOO_LARGE', async () => {
    const error = await bundleError(join(REPO, 'scripts/demo/syncs/contacts.ts'), { maxBytes: 1_000 });
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
