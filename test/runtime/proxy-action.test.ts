import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime, type ProxyRequest, type ProxyResponse } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from './helpers.ts';

const runtime = createRuntime({ workers: 2, logger: pino({ level: 'silent' }) });
let server: Server;
let baseUrl: string;

// A provider on 127.0.0.1: contacts paged by cursor, and a 404 for anything else.
beforeAll(async () => {
  const contacts = Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, name: `Contact ${i}` }));
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/contacts' && req.headers['x-api-key'] === 'k') {
      const start = Number(url.searchParams.get('cursor') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 2);
      const page = contacts.slice(start, start + limit);
      const next = start + limit < contacts.length ? String(start + limit) : null;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ data: { items: page }, meta: { next } }));
      return;
    }
    if (url.pathname === '/v1/echo' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ got: JSON.parse(body), contentType: req.headers['content-type'] }));
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not_found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await runtime.close();
  await new Promise((resolve) => server.close(resolve));
});

/** What the host's proxy does, minus auth and retries: call the provider and hand back text. */
async function httpProxy(request: ProxyRequest): Promise<ProxyResponse> {
  const url = new URL(request.endpoint, baseUrl);
  for (const [k, v] of Object.entries(request.params)) url.searchParams.set(k, v);
  const response = await fetch(url, { method: request.method, headers: { ...request.headers, 'x-api-key': 'k' }, body: request.body ?? null });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

describe('proxy through the bridge', () => {
  it('paginates by cursor, parses JSON bodies, posts JSON and rejects on 4xx with status and data', async () => {
    const code = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { Contact: z.object({ id: z.string(), name: z.string() }) },
        exec: async (ctx) => {
          for await (const page of ctx.paginate({ endpoint: '/v1/contacts', paginate: { type: 'cursor', response_path: 'data.items', cursor_path_in_response: 'meta.next', cursor_name_in_request: 'cursor', limit: 2, limit_name_in_request: 'limit' } })) {
            await ctx.batchSave(page, 'Contact');
          }
          const posted = await ctx.post({ endpoint: '/v1/echo', data: { hello: 'world' } });
          ctx.log(posted.status, posted.data.got.hello, posted.data.contentType);
          try { await ctx.get({ endpoint: '/v1/missing', params: { q: 1 } }); }
          catch (e) { ctx.log('failed', e.status, e.data.error, e.response.status); }
        } });
    `);
    const { bridge, batches, proxied } = recordingBridge(httpProxy);
    const result = await runtime.run(job(code), bridge);
    expect(result.ok).toBe(true);
    expect(batches.map((b) => b.records.map((r) => r.id))).toEqual([['c0', 'c1'], ['c2', 'c3'], ['c4']]);
    expect(proxied[1]).toMatchObject({ method: 'GET', endpoint: '/v1/contacts', params: { cursor: '2', limit: '2' } });
    expect(proxied.find((p) => p.method === 'POST')).toMatchObject({ body: '{"hello":"world"}', headers: { 'content-type': 'application/json' } });
    expect(proxied.at(-1)?.params).toEqual({ q: '1' });
    expect(result.logs.map((l) => l.message)).toEqual(['201 world application/json', 'failed 404 not_found 404']);
    expect(result.usage.proxyCalls).toBe(proxied.length);
    expect(proxied.length).toBe(5);
  });
});

describe('actions', () => {
  let code: string;
  beforeAll(async () => {
    code = await bundle(`
      import { createAction, ActionError } from 'ferry/sdk';
      import { z } from 'zod';
      export default createAction({
        description: 'create contact',
        input: z.object({ name: z.string().min(1), mode: z.enum(['ok', 'bad-output', 'action-error', 'crash', 'huge']).default('ok') }),
        output: z.object({ id: z.string() }),
        exec: async (ctx, input) => {
          if (input.mode === 'bad-output') return { id: 42 };
          if (input.mode === 'action-error') throw new ActionError({ type: 'duplicate', message: 'already exists', existingId: 'c9' });
          if (input.mode === 'crash') { const o = undefined; return o.id; }
          if (input.mode === 'huge') return { id: 'x'.repeat(3 * 1024 * 1024) };
          return { id: 'new-' + input.name };
        },
      });
    `);
  });
  const action = (input: unknown) => runtime.run(job(code, { kind: 'action', input }), recordingBridge().bridge);

  it('returns validated output', async () => {
    const result = await action({ name: 'Ada' });
    expect(result).toMatchObject({ ok: true, output: { id: 'new-Ada' } });
  });

  it('refuses invalid input before exec and invalid output after', async () => {
    const input = await action({ name: '' });
    expect(input).toMatchObject({ ok: false, error: { kind: 'sdk', code: 'INVALID_INPUT', message: expect.stringContaining('name:') } });
    const output = await action({ name: 'a', mode: 'bad-output' });
    expect(output).toMatchObject({ ok: false, error: { kind: 'sdk', code: 'INVALID_OUTPUT', message: expect.stringContaining('id:') } });
  });

  it('returns an ActionError as data with its type and payload', async () => {
    const result = await action({ name: 'a', mode: 'action-error' });
    expect(result).toMatchObject({
      ok: false,
      error: { kind: 'script', code: 'ACTION_ERROR', type: 'duplicate', message: 'already exists', payload: { type: 'duplicate', message: 'already exists', existingId: 'c9' } },
    });
  });

  it('returns a thrown TypeError as SCRIPT_ERROR with a stack, and caps the output size', async () => {
    const crash = await action({ name: 'a', mode: 'crash' });
    expect(crash).toMatchObject({ ok: false, error: { kind: 'script', code: 'SCRIPT_ERROR', message: expect.stringContaining('undefined'), stack: expect.stringContaining('TypeError') } });
    const huge = await action({ name: 'a', mode: 'huge' });
    expect(huge).toMatchObject({ ok: false, error: { kind: 'limit', code: 'OUTPUT_SIZE' } });
  });

  it('recognises NonRetryableError and RetryAfterError by code', async () => {
    const code2 = await bundle(`
      import { createSync, NonRetryableError, RetryAfterError } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
        exec: async (ctx) => { if (ctx.isFullRun) throw new RetryAfterError('quota', 60000); throw new NonRetryableError('revoked'); } });
    `);
    const retry = await runtime.run(job(code2), recordingBridge().bridge);
    expect(retry).toMatchObject({ ok: false, error: { kind: 'script', code: 'RETRY_AFTER', retryAfterMs: 60000, message: 'quota' } });
    const base = job(code2);
    const fatal = await runtime.run({ ...base, context: { ...base.context, isFullRun: false } }, recordingBridge().bridge);
    expect(fatal).toMatchObject({ ok: false, error: { kind: 'script', code: 'NON_RETRYABLE', message: 'revoked' } });
  });
});
