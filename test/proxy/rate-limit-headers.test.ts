/**
 * The provider's own rate-limit headers, in real time: a provider that announces its remaining
 * budget and its reset (under the header names the provider catalog's `rate_limit` config gives)
 * is not sent another request until the reset once remaining reaches 0, so it never has to answer
 * 429; and a 429 that carries only an `X-RateLimit-Reset` (no Retry-After) is retried after that
 * reset, not after the ordinary backoff.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connect, get, proxyParts, startRun } from './harness.ts';
import { startTestProvider, type TestProvider } from './provider-server.ts';

let db: TestDatabase;
let provider: TestProvider;

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startTestProvider();
});
afterAll(async () => {
  await provider?.close();
  await db?.drop();
});
beforeEach(async () => {
  provider.rateBudget(null);
  provider.requests.length = 0;
  await db.sql`delete from connections`;
  await db.sql`delete from providers`;
  await db.sql`delete from rate_limit_buckets`;
});

describe('rate-limit reset headers', () => {
  test('remaining 0 with a reset: the next request waits until the reset, and the provider never answers 429', async () => {
    // Real time: the proxy sleeps for real, the provider refuses anything sent early.
    const parts = proxyParts(db.sql);
    const { target } = await connect(db.sql, parts, {
      name: 'budgeted', base_url: provider.url, auth: { type: 'bearer' },
      rate_limit: { remaining_header: 'X-Budget-Remaining', reset_header: 'X-Budget-Reset' },
    }, { type: 'bearer', token: provider.bearer });
    provider.rateBudget({ size: 2, windowMs: 500, remainingHeader: 'x-budget-remaining', resetHeader: 'x-budget-reset' });

    // retries: 0 — a 429 would come back as the answer, not be hidden by a retry.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await parts.proxy.request(target, get('/v1/me', { retries: 0 }))).status);

    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(provider.count429()).toBe(0);
    const seen = provider.requests;
    expect(seen).toHaveLength(5);
    // Requests 2 and 4 spent their window's budget (remaining: 0); 3 and 5 arrived after that window's reset.
    expect(seen[2]!.at).toBeGreaterThanOrEqual(seen[1]!.resetAt!);
    expect(seen[4]!.at).toBeGreaterThanOrEqual(seen[3]!.resetAt!);
    // Within a window nothing waited: the second request went as soon as the first came back.
    expect(seen[1]!.resetAt).toBe(seen[0]!.resetAt);
    expect(seen[3]!.resetAt).toBe(seen[2]!.resetAt);
    expect(seen[2]!.resetAt!).toBeGreaterThan(seen[1]!.resetAt!);
  }, 15_000);

  test('control: without the catalog naming the headers, the same provider answers 429', async () => {
    const parts = proxyParts(db.sql);
    const { target } = await connect(db.sql, parts, { name: 'unnamed', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    provider.rateBudget({ size: 2, windowMs: 500, remainingHeader: 'x-budget-remaining', resetHeader: 'x-budget-reset' });
    const outcomes: Array<number | string> = [];
    for (let i = 0; i < 3; i++) {
      outcomes.push(await parts.proxy.request(target, get('/v1/me', { retries: 0 })).then((r) => r.status, (err: { code: string }) => err.code));
    }
    // The 429 that used up the (zero) retries ends the call as RETRY_AFTER.
    expect(outcomes).toEqual([200, 200, 'RETRY_AFTER']);
    expect(provider.count429()).toBeGreaterThan(0);
  });

  test('a 429 with only X-RateLimit-Reset (no Retry-After) is retried after that reset', async () => {
    const parts = proxyParts(db.sql);
    const { target, connection } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    const runId = await startRun(db.sql, connection.id);
    // Epoch seconds, at least a second away: far longer than the first backoff (100–200 ms).
    const resetAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
    provider.failNextWith(429, { 'X-RateLimit-Reset': String(resetAt / 1000), 'X-RateLimit-Remaining': '0' });

    const response = await parts.proxy.request(target, get('/v1/me'), { runId });
    expect(response.status).toBe(200);
    expect(provider.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(provider.requests[0]!.at).toBeLessThan(resetAt);
    expect(provider.requests[1]!.at).toBeGreaterThanOrEqual(resetAt);
    await expect.poll(() => parts.calls.list(runId, '0', 10)).toEqual([expect.objectContaining({ status: 200, retries: 1 })]);
  }, 15_000);
});
