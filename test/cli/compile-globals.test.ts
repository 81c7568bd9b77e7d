/**
 * `ferry compile` type-checks scripts against the isolate's real globals: the web globals it
 * provides type-check clean, and each global it does not have fails at file:line with what to use
 * instead.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../cli/bin.ts');
let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function compile(body: string) {
  dir = await mkdtemp(join(tmpdir(), 'ferry-globals-'));
  await mkdir(join(dir, 'scripts/acme/actions'), { recursive: true });
  await writeFile(join(dir, 'scripts/acme/actions/probe.ts'), `
import { createAction } from 'nango';
import { z } from 'zod';
export default createAction({
  description: 'probe', input: z.object({}), output: z.unknown(),
  exec: async () => {
${body}
  },
});
`);
  return promisify(execFile)(process.execPath, [BIN, 'compile'], { cwd: dir }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout + error.stderr }),
  );
}

it('the web globals the isolate provides type-check clean', async () => {
  const result = await compile(`
    const url = new URL('/v1/items?page=2', 'https://api.acme.test');
    url.searchParams.set('limit', '100');
    const bytes = new TextEncoder().encode(btoa('user:pass'));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const controller = new AbortController();
    const timer: number = setTimeout(() => controller.abort(), 10);
    clearTimeout(timer);
    await new Promise<void>((done) => queueMicrotask(done));
    const copy = structuredClone({ at: new Date() });
    return { href: url.href, text: atob(text), id: crypto.randomUUID(), random: crypto.getRandomValues(new Uint8Array(4)), copy, aborted: controller.signal.aborted };
  `);
  expect(result.out).not.toMatch(/TS\d+/);
  expect(result.code).toBe(0);
});

it.each([
  ['Buffer', `return Buffer.from('x').toString('base64');`, /fix: Buffer is Node-only: use TextEncoder\/TextDecoder .* atob\/btoa/],
  ['fetch', `return await fetch('https://api.acme.test');`, /fix: HTTP goes through the connection: use nango\.get/],
  ['setImmediate', `setImmediate(() => {}); return null;`, /fix: use setTimeout\(fn, 0\) or queueMicrotask\(fn\)/],
  ['process', `return process.env;`, /fix: scripts run in an isolate without Node/],
])('%s fails at file:line with what to use instead', async (name, body, hint) => {
  const result = await compile(body);
  expect(result.code).toBe(3);
  expect(result.out).toMatch(new RegExp(`scripts/acme/actions/probe\\.ts:\\d+:\\d+ TS\\d+: Cannot find name '${name}'\\.`));
  expect(result.out).toMatch(hint);
  expect(result.out).not.toMatch(/install type definitions/);
});
