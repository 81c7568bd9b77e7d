/**
 * The host's Postgres backends terminated (pg_terminate_backend, on this file's own database
 * only) again and again for 4 s while a sync saves pages, the API reads and writes and the
 * scheduler ticks: the host stays up, every request answers 2xx/4xx or 503 with Retry-After
 * within its timeout, failed runs are DATABASE_ERROR, and once the kills stop the sync ends with
 * every record well before the 60 s silent-job sweep (a pg-boss completion that lost its backend
 * is retried: host/queue/slots.ts; before, the pair sat blocked ~58 s).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { backendKiller, failOnUncaught, type BackendKiller } from '../helpers/lost-database.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

failOnUncaught({ rejections: false });

const MANY_PAGES = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'pages of 50, each saved on its own',
  frequency: 'every 1 hour',
  syncType: 'full',
  models: { Item },
  exec: async (nango) => {
    let after = '';
    for (;;) {
      const res = await nango.get<{ items: Array<z.infer<typeof Item>>; next: string | null }>({ endpoint: '/items', params: { limit: '50', after }, retries: 0 });
      await nango.batchSave(res.data.items, 'Item');
      if (!res.data.next) return;
      after = res.data.next;
    }
  },
});`;

describe('the host while its backends are terminated again and again', () => {
  let ferry: TestFerry;
  let provider: ItemsProvider;
  let kill: BackendKiller;
  beforeAll(async () => {
    provider = await startItemsProvider(600);
    ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300' });
    kill = backendKiller(ferry.db.url);
    await deploySources(ferry, { 'killp/syncs/pages.ts': MANY_PAGES });
    expect((await ferry.api.put('/providers/killp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await kill?.end();
    await ferry?.close();
    await provider?.close();
  });

  test('runs saving, API reads and writes and the scheduler all survive; every record arrives once; nothing hangs', async () => {
    provider.delayMs = 40; // ~12 pages spread over the kills
    expect((await ferry.api.post('/connections', { connection_id: 'kill-1', provider: 'killp' })).status).toBe(201);
    const statuses: number[] = [];
    const request = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${ferry.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_SECRET_KEY}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000), // a hang fails the test as a TimeoutError
      });
      statuses.push(res.status);
      if (res.status === 503) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(res.headers.get('content-type')).toMatch(/json/);
      await res.arrayBuffer();
    };
    let killed = 0;
    const deadline = Date.now() + 4_000;
    let i = 0;
    while (Date.now() < deadline) {
      const calls = [
        request('GET', '/records?connection_id=kill-1&model=Item&limit=100'),
        request('GET', '/connections/kill-1'),
        request('PUT', '/providers/killp', { base_url: provider.url, auth: { type: 'none' } }),
        request('POST', '/syncs/pages/trigger', { connection_id: 'kill-1' }),
      ];
      if (i++ % 3 === 0) killed += await kill.kill(); // room for a write's retries (0.1, 0.5, 1.5 s)
      await Promise.all(calls);
    }
    expect(killed).toBeGreaterThan(5);
    expect(statuses.every((s) => s < 500 || s === 503)).toBe(true);

    // The backends are left alone now: the host recovers by itself; the sync ends with all records.
    provider.delayMs = 0;
    const last = await waitFor('a run that saved every record', async () => {
      const res = await ferry.api.get('/runs?connection_id=kill-1&sync=pages&limit=20');
      if (res.status !== 200) return undefined;
      if (res.body.runs.some((r: { status: string }) => r.status === 'running')) return undefined;
      const [row] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where model = 'Item'`;
      return row!.n === 600 ? res.body.runs : undefined;
    }, 90_000);
    // A job whose completion lost its backend is completed on retry by its own worker, not left
    // active for the 60 s silent-job sweep to fail: once every job of the connection is settled,
    // none of them is failed.
    const jobStates = async () => (await ferry.db.sql<{ state: string; n: number }[]>`
      select j.state::text as state, count(*)::int as n from pgboss.job j join connections c on j.data->>'connectionId' = c.id::text
      where c.connection_id = 'kill-1' and j.name = 'ferry-sync' group by j.state order by j.state`)
      .map((r) => [r.state, r.n] as const);
    const settled = await waitFor('every sync job of the connection settled', async () => {
      const states = await jobStates();
      return states.some(([state]) => state === 'active' || state === 'created' || state === 'retry') ? undefined : states;
    }, 90_000);
    expect(settled.filter(([state]) => state !== 'completed')).toEqual([]);
    const failed = last.filter((r: { status: string }) => r.status === 'failed');
    for (const run of failed) expect(run.error).toMatchObject({ kind: 'internal', code: 'DATABASE_ERROR' });
    // Nothing half-written: every record is there, live, with the provider's data; the API reads it all back.
    const stored = await ferry.db.sql<{ id: string; name: string }[]>`select id, data->>'name' as name from records where model = 'Item' and deleted_at is null order by id`;
    expect(stored).toEqual([...provider.items.values()].map(({ id, name }) => ({ id, name })).sort((a, b) => a.id.localeCompare(b.id)));
    const page = await ferry.api.get('/records?connection_id=kill-1&model=Item&limit=1000');
    expect(page.status).toBe(200);
    expect(page.body.records).toHaveLength(600);
    // Every pooled connection serves again: concurrent reads all answer 200, promptly.
    const reads = await Promise.all(Array.from({ length: 12 }, () => fetch(`${ferry.url}/records?connection_id=kill-1&model=Item&limit=10`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` }, signal: AbortSignal.timeout(5_000) })));
    expect(reads.map((r) => r.status)).toEqual(Array(12).fill(200));
  }, 180_000);
});
