/**
 * `paginate(config)` as a sync script uses it: the script runs in the real runtime (an isolate),
 * and each page request goes through the host's real proxy to the local provider server. For
 * every style — next URL in the body, the `Link` header, offset, page number — every record
 * arrives exactly once and the provider saw exactly the page requests it should have; and the
 * provider catalog's pagination defaults alone can drive it.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { PaginationDefaults, ProviderInput } from '../../host/connections/providers.ts';
import { createRuntime } from '../../runtime/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { bundle, job, recordingBridge } from '../runtime/helpers.ts';
import { connect, proxyParts, startRun } from './harness.ts';
import { startTestProvider, type TestProvider } from './provider-server.ts';

const ITEMS = 25;
const ALL_IDS = Array.from({ length: ITEMS }, (_, i) => `item-${String(i + 1).padStart(4, '0')}`);

let db: TestDatabase;
let provider: TestProvider;
const runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }) });

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startTestProvider({ items: ITEMS });
});
afterAll(async () => {
  await runtime.close();
  await provider?.close();
  await db?.drop();
});
beforeEach(async () => {
  provider.requests.length = 0;
  await db.sql`delete from connections`;
  await db.sql`delete from providers`;
  await db.sql`delete from rate_limit_buckets`;
});

/** A sync that pages `endpoint` with `paginate` (settings as given, or none) and saves each page. */
function syncSource(endpoint: string, paginate?: Record<string, unknown>): string {
  const config = JSON.stringify(paginate === undefined ? { endpoint } : { endpoint, paginate });
  return `
    import { createSync } from 'ferry/sdk';
    import { z } from 'zod';
    export default createSync({ description: 'items', frequency: 'every hour', models: { Item: z.object({ id: z.string(), n: z.number() }) },
      exec: async (nango) => {
        for await (const page of nango.paginate(${config})) await nango.batchSave(page, 'Item');
      } });`;
}

/** Runs the sync against the provider through the host's proxy; returns the saved pages and the proxied calls the run recorded. */
async function runSync(source: string, providerInput: Omit<ProviderInput, 'name' | 'auth' | 'base_url'> & { base_url?: string } = {}) {
  const parts = proxyParts(db.sql);
  const { target, connection } = await connect(db.sql, parts, { name: 'items', base_url: provider.url, auth: { type: 'bearer' }, ...providerInput }, { type: 'bearer', token: provider.bearer });
  const runId = await startRun(db.sql, connection.id);
  const { bridge, batches, proxied } = recordingBridge((request) => parts.proxy.request(target, request, { runId }));
  const base = job(await bundle(source));
  // What the host's run executor hands the runtime: the provider's pagination defaults, when it has some.
  const result = await runtime.run({ ...base, context: { ...base.context, ...(target.provider.pagination && { paginationDefaults: target.provider.pagination }) } }, bridge);
  expect(result.ok ? null : result.error).toBeNull();
  const pages = batches.map((b) => b.records.map((r) => r.id));
  return { pages, ids: pages.flat(), proxied, calls: () => parts.calls.list(runId, '0', 100) };
}

const itemRequests = (path: string) => provider.requests.filter((r) => r.path === path);

describe('paginate through the runtime and the proxy', () => {
  test('link: the next URL in the response body', async () => {
    const { pages, ids, proxied, calls } = await runSync(syncSource('/v1/items/link-body', {
      type: 'link', response_path: 'data', link_path_in_response_body: 'links.next', limit: 10, limit_name_in_request: 'limit',
    }));
    expect(ids).toEqual(ALL_IDS);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    // The first request carries the limit; the rest follow the provider's next URL (path and query only).
    expect(itemRequests('/v1/items/link-body').map((r) => r.query)).toEqual([{ limit: '10' }, { start: '10', limit: '10' }, { start: '20', limit: '10' }]);
    expect(proxied.map((p) => p.endpoint)).toEqual(['/v1/items/link-body', '/v1/items/link-body?start=10&limit=10', '/v1/items/link-body?start=20&limit=10']);
    expect(provider.requests.every((r) => r.status === 200 && r.authorization === `Bearer ${provider.bearer}`)).toBe(true);
    await expect.poll(async () => (await calls()).map((c) => [c.path, c.status])).toEqual(Array(3).fill(['/v1/items/link-body', 200]));
  });

  test('link: the Link header\'s rel="next" (not its rel="first")', async () => {
    const { pages, ids } = await runSync(syncSource('/v1/items/link', { type: 'link', limit: 8, limit_name_in_request: 'limit' }));
    expect(ids).toEqual(ALL_IDS);
    expect(pages.map((p) => p.length)).toEqual([8, 8, 8, 1]);
    expect(itemRequests('/v1/items/link').map((r) => r.query)).toEqual([
      { limit: '8' }, { start: '8', limit: '8' }, { start: '16', limit: '8' }, { start: '24', limit: '8' },
    ]);
  });

  test('link: under a base URL with a path, an absolute next URL is followed where it points, not under the path again', async () => {
    const { ids, proxied } = await runSync(syncSource('/items/link', { type: 'link', limit: 10, limit_name_in_request: 'limit' }), { base_url: `${provider.url}/v1` });
    expect(ids).toEqual(ALL_IDS);
    expect(itemRequests('/v1/items/link').map((r) => r.query)).toEqual([{ limit: '10' }, { start: '10', limit: '10' }, { start: '20', limit: '10' }]);
    expect(proxied.map((p) => [p.baseUrlOverride, p.endpoint])).toEqual([
      [undefined, '/items/link'], [provider.url, '/v1/items/link?start=10&limit=10'], [provider.url, '/v1/items/link?start=20&limit=10'],
    ]);
  });

  test('offset: advances by the records received; a short page ends it', async () => {
    const { pages, ids } = await runSync(syncSource('/v1/items/offset', {
      type: 'offset', response_path: 'items', offset_name_in_request: 'offset', limit: 10, limit_name_in_request: 'limit',
    }));
    expect(ids).toEqual(ALL_IDS);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(itemRequests('/v1/items/offset').map((r) => r.query)).toEqual([
      { offset: '0', limit: '10' }, { offset: '10', limit: '10' }, { offset: '20', limit: '10' },
    ]);
  });

  test('page: page numbers from 1; full pages up to the end, then an empty page ends it', async () => {
    const { pages, ids } = await runSync(syncSource('/v1/items/page', {
      type: 'page', response_path: 'data', offset_name_in_request: 'page', limit: 5, limit_name_in_request: 'limit',
    }));
    expect(ids).toEqual(ALL_IDS);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 5]);
    expect(itemRequests('/v1/items/page').map((r) => r.query)).toEqual(
      [1, 2, 3, 4, 5, 6].map((page) => ({ page: String(page), limit: '5' })),
    );
    expect(itemRequests('/v1/items/page').at(-1)!.status).toBe(200);
  });

  test('the provider catalog\'s pagination defaults supply the config: the script passes only the endpoint', async () => {
    const pagination: PaginationDefaults = { type: 'offset', response_path: 'items', offset_name_in_request: 'offset', limit: 7, limit_name_in_request: 'limit' };
    const { pages, ids } = await runSync(syncSource('/v1/items/offset'), { pagination });
    expect(ids).toEqual(ALL_IDS);
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
    expect(itemRequests('/v1/items/offset').map((r) => r.query)).toEqual([0, 7, 14, 21].map((offset) => ({ offset: String(offset), limit: '7' })));

    // The script's own settings go over the defaults, which still supply the rest.
    provider.requests.length = 0;
    const over = await runSync(syncSource('/v1/items/offset', { limit: 13 }), { pagination });
    expect(over.ids).toEqual(ALL_IDS);
    expect(itemRequests('/v1/items/offset').map((r) => r.query)).toEqual([{ offset: '0', limit: '13' }, { offset: '13', limit: '13' }]);
  });
});
