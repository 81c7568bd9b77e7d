/**
 * `paginate` with Nango's options, run in the real runtime (an isolate in a worker child) against
 * a provider server on 127.0.0.1: parameters in a POST body under dot paths (GraphQL),
 * `offset_calculation_method: 'per-page'` resumed from `offset_start_value`, `on_page` after each
 * page is handled (a checkpoint there covers the saved page), a Link header's custom rel, a
 * body link under a key holding a dot (`@odata.nextLink`), and an offset walk that stops at a short page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type ProxyRequest, type ProxyResponse } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from './helpers.ts';

const IDS = Array.from({ length: 7 }, (_, i) => `i${i + 1}`);
const items = (from: number, count: number) => IDS.slice(from, from + count).map((id) => ({ id }));

let server: Server;
let base: string;
const seen: Array<{ method: string; url: string; body: any }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = text ? JSON.parse(text) : undefined;
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.setHeader('content-type', 'application/json');
      if (url.pathname === '/graphql') {
        const { first, after } = body.variables;
        const from = after ? Number(after.slice(1)) : 0;
        const nodes = items(from, first);
        const end = from + nodes.length;
        res.end(JSON.stringify({ data: { items: { nodes, pageInfo: { endCursor: end < IDS.length ? `c${end}` : null } } } }));
      } else if (url.pathname === '/pages') {
        const page = Number(url.searchParams.get('page'));
        const per = Number(url.searchParams.get('per_page'));
        res.end(JSON.stringify({ results: items((page - 1) * per, per) }));
      } else if (url.pathname === '/linked') {
        const from = Number(url.searchParams.get('from') ?? 0);
        if (from + 3 < IDS.length) res.setHeader('link', `<${base}/linked?from=${from + 3}>; rel="forward", <${base}/linked?from=6>; rel="last"`);
        res.end(JSON.stringify(items(from, 3)));
      } else if (url.pathname === '/odata') {
        const from = Number(url.searchParams.get('skip') ?? 0);
        res.end(JSON.stringify({ value: items(from, 3), ...(from + 3 < IDS.length && { '@odata.nextLink': `${base}/odata?skip=${from + 3}` }) }));
      } else if (url.pathname === '/offset') {
        const offset = Number(url.searchParams.get('skip'));
        res.end(JSON.stringify({ rows: items(offset, 3) }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
const runtime = createRuntime({ workers: 1, logger: createLogger({ name: 'test', level: 'silent' }) });
afterAll(async () => {
  await (await runtime).close();
  await new Promise((resolve) => server.close(resolve));
});

/** Sends the script's proxied requests to the local server, as the host's proxy would. */
async function toServer(request: ProxyRequest): Promise<ProxyResponse> {
  const url = new URL(request.endpoint, request.baseUrlOverride ?? base);
  for (const [k, v] of Object.entries(request.params)) url.searchParams.set(k, v);
  const response = await fetch(url, { method: request.method, headers: request.headers, ...(request.body !== undefined && { body: request.body }) });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

async function runSync(exec: string, checkpoint: Record<string, unknown> | null = null) {
  seen.length = 0;
  const code = await bundle(`
    import { createSync } from 'nango';
    import { z } from 'zod';
    export default createSync({ description: 'p', frequency: 'every hour', models: { Item: z.object({ id: z.string() }) },
      exec: async (nango) => { ${exec} } });`);
  const recorded = recordingBridge(toServer);
  const events: string[] = [];
  const { bridge } = recorded;
  const saveRecords = bridge.saveRecords.bind(bridge);
  const saveCheckpoint = bridge.saveCheckpoint.bind(bridge);
  bridge.saveRecords = async (batch) => {
    events.push(`save ${batch.records.map((r) => r.id).join(',')}`);
    return saveRecords(batch);
  };
  bridge.saveCheckpoint = async (value) => {
    events.push(`checkpoint ${JSON.stringify(value)}`);
    return saveCheckpoint(value);
  };
  const base = job(code);
  const result = await (await runtime).run({ ...base, context: { ...base.context, checkpoint } }, bridge);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return { events, saved: recorded.batches.flatMap((b) => b.records.map((r) => r.id)) };
}

test('GraphQL over POST: the cursor and limit go in the body under dot paths, nothing in the query', async () => {
  const { saved } = await runSync(`
    for await (const page of nango.paginate({ method: 'POST', endpoint: '/graphql', data: { query: 'query Items($first: Int, $after: String) { ... }', variables: { first: 0 } },
      paginate: { type: 'cursor', cursor_path_in_response: 'data.items.pageInfo.endCursor', cursor_name_in_request: 'variables.after', limit: 3, limit_name_in_request: 'variables.first', response_path: 'data.items.nodes' } })) {
      await nango.batchSave(page, 'Item');
    }`);
  expect(saved).toEqual(IDS);
  expect(seen.map((s) => [s.method, s.url, s.body.variables])).toEqual([
    ['POST', '/graphql', { first: 3 }],
    ['POST', '/graphql', { first: 3, after: 'c3' }],
    ['POST', '/graphql', { first: 3, after: 'c6' }],
  ]);
  expect(seen[0]!.body.query).toMatch(/^query Items/);
});

test("per-page offsets resume from offset_start_value, and on_page's checkpoint comes after the page it covers is saved", async () => {
  const { saved, events } = await runSync(`
    const checkpoint = await nango.getCheckpoint();
    for await (const page of nango.paginate({ endpoint: '/pages', paginate: { type: 'offset', offset_name_in_request: 'page', offset_calculation_method: 'per-page',
      offset_start_value: checkpoint?.page ?? 1, limit: 2, limit_name_in_request: 'per_page', response_path: 'results',
      on_page: async ({ nextPageParam }) => { if (typeof nextPageParam === 'number') await nango.saveCheckpoint({ page: nextPageParam }); } } })) {
      await nango.batchSave(page, 'Item');
    }`, { page: 2 });
  expect(saved).toEqual(['i3', 'i4', 'i5', 'i6', 'i7']);
  expect(seen.map((s) => s.url)).toEqual(['/pages?per_page=2&page=2', '/pages?per_page=2&page=3', '/pages?per_page=2&page=4']);
  expect(events).toEqual(['save i3,i4', 'checkpoint {"page":3}', 'save i5,i6', 'checkpoint {"page":4}', 'save i7']);
});

test('a Link header entry of the configured rel is followed; other rels are not', async () => {
  const { saved } = await runSync(`
    for await (const page of nango.paginate({ endpoint: '/linked', paginate: { type: 'link', link_rel_in_response_header: 'forward' } })) await nango.batchSave(page, 'Item');`);
  expect(saved).toEqual(IDS);
  expect(seen.map((s) => s.url)).toEqual(['/linked', '/linked?from=3', '/linked?from=6']);
});

test('an offset by response size stops at a page shorter than the limit, without asking for another', async () => {
  const { saved } = await runSync(`
    for await (const page of nango.paginate({ endpoint: '/offset', paginate: { type: 'offset', offset_name_in_request: 'skip', limit: 3, response_path: 'rows' } })) await nango.batchSave(page, 'Item');`);
  expect(saved).toEqual(IDS);
  expect(seen.map((s) => s.url)).toEqual(['/offset?skip=0', '/offset?skip=3', '/offset?skip=6']);
});

test("a body link path that is itself a key with a dot (OData's `@odata.nextLink`) is read as that key", async () => {
  const { saved } = await runSync(`
    for await (const page of nango.paginate({ endpoint: '/odata', paginate: { type: 'link', link_path_in_response_body: '@odata.nextLink', response_path: 'value' } })) await nango.batchSave(page, 'Item');`);
  expect(saved).toEqual(IDS);
  expect(seen.map((s) => s.url)).toEqual(['/odata', '/odata?skip=3', '/odata?skip=6']);
});
