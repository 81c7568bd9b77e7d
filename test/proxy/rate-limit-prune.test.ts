/**
 * Idle rate-limit buckets are deleted; live ones stay. Through a whole host (its periodic
 * pruning, proxied calls to a real provider server on 127.0.0.1 under two providers' rate
 * limits), and against real Postgres for each kind of row: a bucket refilled to its burst goes, one
 * still owed tokens, one blocked by the provider and one just taken stay; a deleted bucket gives
 * the next caller the same answer a full one would.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pruneRateLimitBuckets } from '../../host/proxy/rate-limit-prune.ts';
import { createRateLimiter } from '../../host/proxy/rate-limiter.ts';
import { startStaticCredentialsProvider, type StaticCredentialsProvider } from '../connect/static-credentials-provider.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a whole host', () => {
  let ferry: TestFerry;
  let provider: StaticCredentialsProvider;

  beforeAll(async () => {
    provider = await startStaticCredentialsProvider();
    ferry = await startTestFerry({ FERRY_RATE_LIMIT_PRUNE_MS: '200', FERRY_RATE_LIMIT_IDLE_GRACE_MS: '0' });
    const auth = { type: 'api_key', in: 'header', name: 'x-api-key' };
    // 50 per second: idle 20 ms after a call. One per 100 s: idle 100 s after a call.
    expect((await ferry.api.put('/providers/fast', { base_url: provider.url, auth, rate_limit: { per_connection: { requests_per_second: 50 } } })).status).toBe(200);
    expect((await ferry.api.put('/providers/slow', { base_url: provider.url, auth, rate_limit: { per_connection: { requests_per_second: 0.01 } } })).status).toBe(200);
    for (const name of ['fast', 'slow']) {
      expect((await ferry.api.post('/connections', { connection_id: `${name}-1`, provider: name, credentials: { type: 'api_key', apiKey: provider.apiKey } })).status).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await ferry?.close();
    await provider?.close();
  });

  const bucketKeys = async () => (await ferry.db.sql<{ key: string }[]>`select key from rate_limit_buckets order by key`).map((r) => r.key);
  const connectionKey = async (connectionId: string) => {
    const [row] = await ferry.db.sql<{ id: string }[]>`select id::text from connections where connection_id = ${connectionId}`;
    return `conn:${row!.id}`;
  };

  test('prunes the bucket its fast rate has refilled and keeps the one the slow rate still refills', async () => {
    for (const name of ['fast', 'slow']) {
      const answer = await ferry.api.post(`/connections/${name}-1/proxy`, { method: 'GET', endpoint: '/v1/items' });
      expect(answer).toMatchObject({ status: 200, body: { status: 200 } });
    }
    const fast = await connectionKey('fast-1');
    const slow = await connectionKey('slow-1');
    expect(provider.requests.filter((r) => r.path === '/v1/items')).toHaveLength(2);
    // Both calls wrote their bucket; the pruning loop (every 200 ms) deletes the idle one.
    await waitFor('the fast bucket pruned', async () => ((await bucketKeys()).includes(fast) ? undefined : true), 10_000);
    await sleep(600);
    expect(await bucketKeys()).toEqual([slow]);
    // The kept bucket still limits: the next call must wait about 100 s and is refused.
    const limited = await ferry.api.post('/connections/slow-1/proxy', { method: 'GET', endpoint: '/v1/items' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RETRY_AFTER');
  });
});

describe('which rows go', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  test('full and unblocked goes; owed, blocked, recently taken and recent rows from before idle_at stay', async () => {
    const limiter = createRateLimiter(db.sql);
    const sql = db.sql;
    // Refilled within 10 ms.
    expect(await limiter.reserve([{ key: 'full', requestsPerSecond: 100 }])).toBe(0);
    // Five takes at 0.5 per second with a burst of 1: four tokens owed, idle in 10 s (a loaded machine's stall before the prune below must not reach it).
    for (let i = 0; i < 5; i++) await limiter.reserve([{ key: 'owed', requestsPerSecond: 0.5 }]);
    await limiter.block(['blocked'], 60_000);
    await limiter.block(['short-block'], 30);
    // One token in 100 s, just taken: still refilling when the owed row has gone.
    await limiter.reserve([{ key: 'recent', requestsPerSecond: 0.01, burst: 5 }]);
    await sql`insert into rate_limit_buckets (key, tokens, refilled_at) values ('legacy-old', 0, now() - interval '2 days'), ('legacy-new', 0, now())`;

    await sleep(100);
    expect(await pruneRateLimitBuckets(sql, 0)).toBe(3);
    const left = async () => (await sql<{ key: string }[]>`select key from rate_limit_buckets order by key`).map((r) => r.key);
    expect(await left()).toEqual(['blocked', 'legacy-new', 'owed', 'recent']);

    // The owed tokens are paid after 10 s: then that row goes too (only it), and a fresh take waits nothing, as on a full bucket.
    const pruned = await waitFor('the owed row paid up and pruned', async () => {
      const n = await pruneRateLimitBuckets(sql, 0);
      return n > 0 ? n : undefined;
    }, 60_000);
    expect(pruned).toBe(1);
    expect(await left()).toEqual(['blocked', 'legacy-new', 'recent']);
    expect(await limiter.reserve([{ key: 'owed', requestsPerSecond: 0.5 }])).toBe(0);
    // A grace keeps idle rows that long.
    await sleep(50);
    expect(await pruneRateLimitBuckets(sql, 60_000)).toBe(0);
    // Still blocked: a caller on the blocked key waits.
    expect(await limiter.reserve([{ key: 'blocked' }])).toBeGreaterThan(0);
  });
});
