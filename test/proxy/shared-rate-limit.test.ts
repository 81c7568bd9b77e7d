/**
 * The rate limit holds across processes. Two whole hosts on one database (each with one runtime
 * worker, so each runs one sync at a time) sync two connections at once against a provider that
 * allows 10 requests per second per credential and answers 429 beyond it; Ferry's shared bucket
 * keeps them together under the limit, so the provider never answers 429. The runs also page by
 * the provider catalog's pagination defaults and record every call on the run.
 */
import { fileURLToPath } from 'node:url';
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, readAll, TEST_SECRET_KEY, waitFor, waitForRun, type ApiClient } from '../helpers/ferry.ts';
import { connect, get, proxyParts } from './harness.ts';
import { startTestProvider, type TestProvider } from './provider-server.ts';

const SCRIPTS_DIR = fileURLToPath(new URL('./fixtures', import.meta.url));
const ITEMS = 30;
const PAGE = 2;

let db: TestDatabase;
let provider: TestProvider;
const hosts: FerryHost[] = [];
let api: ApiClient;

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startTestProvider({ requestsPerSecond: 10, items: ITEMS });
  const encryptionKey = generateEncryptionKey();
  for (let i = 0; i < 2; i++) {
    const config = loadConfig({
      DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: encryptionKey,
      FERRY_RUNTIME_WORKERS: '1', FERRY_SCHEDULER_TICK_MS: '200',
    });
    hosts.push(await startFerry(config, createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' })));
  }
  api = createApiClient(hosts[0]!.url!, TEST_SECRET_KEY);
}, 60_000);
afterAll(async () => {
  for (const host of hosts) await host.close();
  await provider?.close();
  await db?.drop();
});

describe('a rate limit shared by all worker processes', () => {
  test('two hosts syncing at once stay under the provider limit: no 429', async () => {
    await deployScripts({ dir: SCRIPTS_DIR, url: hosts[0]!.url!, key: TEST_SECRET_KEY });
    const put = await api.put('/providers/ratelimited', {
      base_url: provider.url,
      auth: { type: 'bearer' },
      pagination: { type: 'cursor', response_path: 'results', cursor_path_in_response: 'paging.next', cursor_name_in_request: 'cursor', limit: PAGE, limit_name_in_request: 'limit' },
      // Both connections use one provider credential: the provider's budget is shared, so is ours (with headroom).
      rate_limit: { per_provider: { requests_per_second: 8, burst: 1 } },
    });
    expect(put.status).toBe(200);
    // The second connection is created once the first run holds one host's only worker slot,
    // so the other host takes it (a host fetches a couple of due jobs at once otherwise).
    for (const id of ['acct-a', 'acct-b']) {
      const created = await api.post('/connections', { connection_id: id, provider: 'ratelimited', credentials: { type: 'bearer', token: provider.bearer } });
      expect(created.status).toBe(201);
      if (id === 'acct-a') {
        await waitFor('the first run to start', async () => {
          const { body } = await api.get('/runs?connection_id=acct-a&sync=items&limit=1');
          return body.runs[0]?.status === 'running' ? true : undefined;
        });
      }
    }
    const runs = await Promise.all(['acct-a', 'acct-b'].map((id) => waitForRun(api, id, 'items', '0', 60_000)));
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);

    // The runs overlapped: they ran at once, on the two hosts (each takes one run at a time).
    const [a, b] = runs.map((r) => ({ start: Date.parse(r.started_at), end: Date.parse(r.finished_at) }));
    expect(a!.start < b!.end && b!.start < a!.end).toBe(true);

    const itemRequests = provider.requests.filter((r) => r.path === '/v1/items/cursor');
    expect(itemRequests).toHaveLength(2 * (ITEMS / PAGE));
    expect(provider.count429()).toBe(0);
    for (const id of ['acct-a', 'acct-b']) expect((await readAll(api, id, 'Item')).records).toHaveLength(ITEMS);

    // Pagination defaults came from the catalog; each call is on the run, without secrets.
    expect(itemRequests[0]!.query).toMatchObject({ limit: String(PAGE) });
    const calls = await api.get(`/runs/${runs[0].id}/calls`);
    expect(calls.status).toBe(200);
    expect(calls.body.calls).toHaveLength(ITEMS / PAGE);
    expect(calls.body.calls[0]).toMatchObject({ method: 'GET', path: '/v1/items/cursor', status: 200, retries: 0 });
    expect(JSON.stringify(calls.body)).not.toContain(provider.bearer);
  }, 90_000);

  test('control: the same burst from two processes without a configured limit draws 429s', async () => {
    const pools = [postgres(db.url, { max: 2, onnotice: () => {} }), postgres(db.url, { max: 2, onnotice: () => {} })];
    try {
      const parts = pools.map((sql) => proxyParts(sql, { sleep: async () => {} }));
      const { target } = await connect(db.sql, parts[0]!, { name: 'unlimited', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer }, 'control');
      const before = provider.count429();
      await Promise.allSettled(parts.flatMap((p) => Array.from({ length: 8 }, () => p.proxy.request(target, get('/v1/me', { retries: 0 })))));
      expect(provider.count429() - before).toBeGreaterThan(0);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test('per connection: two processes sharing one connection bucket stay under the limit', async () => {
    const pools = [postgres(db.url, { max: 2, onnotice: () => {} }), postgres(db.url, { max: 2, onnotice: () => {} })];
    try {
      const parts = pools.map((sql) => proxyParts(sql));
      const { target } = await connect(db.sql, parts[0]!, { name: 'limited', base_url: provider.url, auth: { type: 'bearer' }, rate_limit: { per_connection: { requests_per_second: 8, burst: 1 } } }, { type: 'bearer', token: provider.bearer }, 'limited');
      // The control above may have left the provider's window full: start after it drains.
      await db.sql`select pg_sleep(1.1)`;
      const before = provider.count429();
      const results = await Promise.all(parts.flatMap((p) => Array.from({ length: 8 }, () => p.proxy.request(target, get('/v1/me', { retries: 0 })))));
      expect(results.map((r) => r.status)).toEqual(Array(16).fill(200));
      expect(provider.count429() - before).toBe(0);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  }, 30_000);
});
