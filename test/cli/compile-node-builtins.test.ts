/**
 * `ferry compile` of a script importing a package that needs Node built-ins (shaped like `soap`:
 * JavaScript requiring http/events, and declarations that reference Node's types) fails with ONE
 * message at the script's import, naming the built-ins and the alternative — no type errors or
 * lines from inside node_modules.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-compile-builtins-'));
  const pkg = join(dir, 'node_modules/soapish');
  await mkdir(pkg, { recursive: true });
  await mkdir(join(dir, 'scripts/crm/actions'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'soapish', main: 'index.js', types: 'index.d.ts' }));
  await writeFile(join(pkg, 'index.js'), "const http = require('http');\nconst { EventEmitter } = require('events');\nmodule.exports = { createClient() { return new EventEmitter(); } };\n");
  await writeFile(join(pkg, 'index.d.ts'), [
    '/// <reference types="node" />',
    "import { EventEmitter } from 'events';",
    "import * as http from 'http';",
    'export declare class Client extends EventEmitter { request(options: http.RequestOptions): void; body: Buffer; }',
    'export declare function createClient(url: string): Promise<Client>;',
  ].join('\n'));
  await writeFile(join(dir, 'scripts/crm/actions/call-soap.ts'), [
    "import { createAction } from 'nango';",
    "import { z } from 'zod';",
    "import { createClient } from 'soapish';",
    "export default createAction({ description: 'soap', input: z.object({}), output: z.object({}), exec: async () => { await createClient('https://x.test/wsdl'); return {}; } });",
  ].join('\n'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('one message at the import, naming the built-ins and what to do instead; exit 3', async () => {
  const run = await promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), 'compile', '--dir', join(dir, 'scripts')], { cwd: dir }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
  expect(run.code).toBe(3);
  const lines = run.stderr.split('\n').filter((l) => l.includes(':3:30'));
  expect(lines).toEqual([
    `  scripts/crm/actions/call-soap.ts:3:30 "soapish" needs Node built-ins: events, http. Scripts run in an isolate without Node: call the provider over HTTP with nango.get/post/proxy (a SOAP call is a POST of the XML envelope as text), and use packages that run without Node (pure JavaScript)`,
  ]);
  expect(run.stderr).not.toContain('node_modules');
  expect(run.stderr).not.toMatch(/error TS|TS\d{4}/);
}, 120_000);
