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

async function compile(body: string, files?: Record<string, string>) {
  dir = await mkdtemp(join(tmpdir(), 'ferry-globals-'));
  const sources = files ?? { 'scripts/acme/actions/probe.ts': `
import { createAction } from 'nango';
import { z } from 'zod';
export default createAction({
  description: 'probe', input: z.object({}), output: z.unknown(),
  exec: async () => {
${body}
  },
});
` };
  for (const [path, source] of Object.entries(sources)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), source);
  }
  return promisify(execFile)(process.execPath, [BIN, 'compile'], { cwd: dir }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout + error.stderr }),
  );
}

it('the web globals the isolate provides, and Buffer, type-check clean', async () => {
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
    // Buffer is Nango's too: the bundler gives it to the scripts that use it (cli/node-shims.ts).
    const encoded: string = Buffer.from(text, 'utf8').toString('base64');
    return { href: url.href, text: atob(text), encoded, id: crypto.randomUUID(), random: crypto.getRandomValues(new Uint8Array(4)), copy, aborted: controller.signal.aborted };
  `);
  expect(result.out).not.toMatch(/TS\d+/);
  expect(result.code).toBe(0);
});

it.each([
  ['require', `return require('fs');`, /fix: scripts run in an isolate without Node/],
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

it('a page loop whose types go in a circle (TS7022) is told how to annotate it', async () => {
  const result = await compile('', {
    'scripts/acme/syncs/items.ts': `
import { createSync } from 'nango';
import { z } from 'zod';
export default createSync({
  description: 'items', frequency: 'every hour', syncType: 'full', models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    let cursor: string | null = null;
    do {
      const { data } = await nango.get<{ items: Array<{ id: string }>; next: string | null }>({ endpoint: '/v1/items', params: cursor ? { cursor } : {} });
      await nango.batchSave(data.items, 'Item');
      cursor = data.next;
    } while (cursor);
  },
});
`,
  });
  expect(result.code).toBe(3);
  expect(result.out).toMatch(/scripts\/acme\/syncs\/items\.ts:\d+:\d+ TS7022: /);
  expect(result.out).toMatch(/fix: TypeScript cannot infer a value from a call that depends on what the loop sets from it/);
});

it("Nango's definition options and typed state type-check clean (checkpoint, metadata, scopes, on_page, ActionError, zodValidateInput, types from @nangohq/runner-sdk)", async () => {
  const result = await compile('', {
    'scripts/acme/syncs/tickets.ts': `
import { createSync, type ProxyConfiguration } from 'nango';
import { z } from 'zod';
const Ticket = z.object({ id: z.string(), subject: z.string() });
const Checkpoint = z.object({ page: z.number(), updatedAfter: z.string() });
const Metadata = z.object({ subdomain: z.string(), teamIds: z.array(z.string()).optional() });
const sync = createSync<{ Ticket: typeof Ticket }, typeof Metadata, typeof Checkpoint>({
  description: 'tickets', version: '1.0.0', frequency: 'every hour', autoStart: true, syncType: 'incremental',
  scopes: ['tickets:read'], checkpoint: Checkpoint, metadata: Metadata, models: { Ticket },
  endpoints: [{ method: 'GET', path: '/tickets', group: 'Tickets' }],
  exec: async (nango) => {
    const checkpoint = await nango.getCheckpoint();
    const page: number = checkpoint?.page ?? 1;
    const { subdomain } = await nango.getMetadata();
    const config: ProxyConfiguration = {
      endpoint: '/api/v2/tickets', params: { sort: 'updated_at', ids: ['1', '2'] }, retries: 3,
      paginate: { type: 'offset', offset_name_in_request: 'page', offset_start_value: page, offset_calculation_method: 'per-page', limit: 100,
        limit_name_in_request: 'per_page', response_path: 'tickets',
        on_page: async ({ nextPageParam }) => { if (typeof nextPageParam === 'number') await nango.saveCheckpoint({ page: nextPageParam, updatedAfter: subdomain }); } },
    };
    const pages: AsyncGenerator<z.infer<typeof Ticket>[], undefined, void> = nango.paginate<z.infer<typeof Ticket>>(config);
    for await (const tickets of pages) await nango.batchSave(tickets, 'Ticket');
    const connection = await nango.getConnection();
    const region: string | undefined = connection.connection_config['region'];
    await nango.log(region ?? 'us', { level: 'info' });
    await nango.clearCheckpoint();
  },
});
export type NangoSyncLocal = Parameters<(typeof sync)['exec']>[0];
export default sync;
`,
    'scripts/acme/actions/close-ticket.ts': `
import { createAction } from 'nango';
import type { NangoAction, ProxyConfiguration } from '@nangohq/runner-sdk';
import { z } from 'zod';
const Input = z.object({ id: z.string() });
// A helper typed with Nango's runner package, as some of Nango's scripts type theirs.
async function closed(nango: NangoAction, id: string): Promise<boolean> {
  const config: ProxyConfiguration = { endpoint: \`/tickets/\${id}\`, retries: 3 };
  const response = await nango.get<{ status: string }>(config);
  return response.data.status === 'closed';
}
export default createAction({
  description: 'close', version: '1.0.0', endpoint: { method: 'POST', path: '/tickets/close' }, scopes: ['tickets:write'],
  input: Input, output: z.object({ ok: z.boolean() }),
  exec: async (nango, input) => {
    const { data } = await nango.zodValidateInput({ zodSchema: Input, input });
    const response = await nango.post<{ status: string }>({ endpoint: \`/tickets/\${data.id}/close\`, data: {} });
    if (response.data.status !== 'closed' || !(await closed(nango, data.id))) throw new nango.ActionError({ message: 'not closed', id: data.id });
    return { ok: true };
  },
});
`,
  });
  expect(result.out).not.toMatch(/TS\d+/);
  expect(result.code).toBe(0);
});
