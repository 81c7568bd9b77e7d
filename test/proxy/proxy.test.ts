/**
 * The proxied request against a real provider server: credentials injected per scheme and never
 * recorded, SSRF refusals, same-host redirects, retries with backoff honouring Retry-After,
 * long waits ending as RETRY_AFTER, the size cap and timeouts, and each call recorded on the run.
 */
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connect, get, proxyParts, startRun } from './harness.ts';
import { startTestProvider, type TestProvider } from './provider-server.ts';

let db: TestDatabase;
let provider: TestProvider;
let waits: number[];
const sleep = async (ms: number) => { waits.push(ms); };

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startTestProvider();
});
afterAll(async () => {
  await provider?.close();
  await db?.drop();
});
beforeEach(async () => {
  waits = [];
  provider.requests.length = 0;
  await db.sql`delete from connections`;
  await db.sql`delete from providers`;
  await db.sql`delete from rate_limit_buckets`;
});

describe('credentials', () => {
  test('each scheme reaches the provider; the response and the recorded call carry no secret', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const cases = [
      { auth: { type: 'bearer' as const }, credentials: { type: 'bearer' as const, token: provider.bearer }, secret: provider.bearer },
      { auth: { type: 'api_key' as const, in: 'header' as const, name: 'X-Api-Key' }, credentials: { type: 'api_key' as const, apiKey: provider.apiKey }, secret: provider.apiKey },
      { auth: { type: 'api_key' as const, in: 'query' as const, name: 'api_key' }, credentials: { type: 'api_key' as const, apiKey: provider.apiKey }, secret: provider.apiKey },
      { auth: { type: 'basic' as const }, credentials: { type: 'basic' as const, ...provider.basic }, secret: provider.basic.password },
    ];
    for (const [i, c] of cases.entries()) {
      const { target, connection } = await connect(db.sql, parts, { name: `p${i}`, base_url: provider.url, auth: c.auth }, c.credentials, `conn-${i}`);
      const runId = await startRun(db.sql, connection.id);
      const response = await parts.proxy.request(target, get('/v1/me'), { runId });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ who: c.auth.type === 'api_key' ? 'api-key' : c.auth.type });
      await expect.poll(() => parts.calls.list(runId, '0', 10)).toHaveLength(1);
      const [call] = await parts.calls.list(runId, '0', 10);
      expect(call).toMatchObject({ method: 'GET', path: '/v1/me', status: 200, retries: 0 });
      expect(JSON.stringify(call)).not.toContain(c.secret);
    }
  });

  test('the script cannot override the injected authorization', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    await parts.proxy.request(target, get('/v1/me', { headers: { Authorization: 'Bearer stolen', Cookie: 'x=1' } }));
    expect(provider.requests.at(-1)!.authorization).toBe(`Bearer ${provider.bearer}`);
  });
});

describe('SSRF', () => {
  test('absolute URLs, protocol-relative paths and another host in baseUrlOverride are refused', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    for (const endpoint of ['http://169.254.169.254/latest/meta-data', '//evil.example/x', 'file:///etc/passwd']) {
      await expect(parts.proxy.request(target, get(endpoint))).rejects.toMatchObject({ code: 'INVALID_ENDPOINT' });
    }
    await expect(parts.proxy.request(target, get('/v1/me', { baseUrlOverride: 'http://10.0.0.1' }))).rejects.toMatchObject({ code: 'INVALID_BASE_URL_OVERRIDE' });
    expect(provider.requests).toHaveLength(0);
  });

  test('a redirect on the provider host is followed, one off it is refused', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    const followed = await parts.proxy.request(target, get('/redirect/same'));
    expect(followed.status).toBe(200);
    expect(JSON.parse(followed.body)).toEqual({ who: 'bearer' });
    await expect(parts.proxy.request(target, get('/redirect/away'))).rejects.toMatchObject({ code: 'REDIRECT_BLOCKED' });
  });

  test('a public provider name that resolves to a private address is refused; a private base URL is allowed', async () => {
    const port = new URL(provider.url).port;
    // DNS answering 127.0.0.1 for a public-looking name (rebinding); the connection is never made.
    const lookup = ((_host: string, options: unknown, cb: (e: null, a: string | LookupAddress[], f?: number) => void) => {
      if ((options as { all?: boolean }).all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    }) as never;
    const parts = proxyParts(db.sql, { sleep, lookup });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: `http://api.provider.example:${port}`, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    await expect(parts.proxy.request(target, get('/v1/me'))).rejects.toMatchObject({ code: 'ADDRESS_BLOCKED' });
    expect(provider.requests).toHaveLength(0);

    const local = await connect(db.sql, parts, { name: 'local', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer }, 'conn-local');
    expect((await parts.proxy.request(local.target, get('/v1/me'))).status).toBe(200);
  });
});

describe('retries', () => {
  test('5xx and 429 are retried with backoff; Retry-After sets the wait; the call records its retries', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const { target, connection } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    const runId = await startRun(db.sql, connection.id);
    provider.failNext(1, 503);
    provider.failNext(1, 429, '2');
    const response = await parts.proxy.request(target, get('/v1/me'), { runId });
    expect(response.status).toBe(200);
    expect(provider.requests.map((r) => r.status)).toEqual([503, 429, 200]);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(100); // jittered backoff, attempt 0: 100–200 ms
    expect(waits[0]).toBeLessThanOrEqual(200);
    // Retry-After: 2, waited out through the shared block (measured on the database clock).
    expect(waits[1]).toBeGreaterThan(1500);
    expect(waits[1]).toBeLessThanOrEqual(2000);
    await expect.poll(() => parts.calls.list(runId, '0', 10)).toEqual([expect.objectContaining({ status: 200, retries: 2 })]);
  });

  test('writes are not retried unless asked; retries run out and return the last answer', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    provider.failNext(1, 500);
    expect((await parts.proxy.request(target, { ...get('/v1/me'), method: 'POST', body: '{}' })).status).toBe(500);
    provider.failNext(3, 502);
    expect((await parts.proxy.request(target, get('/v1/me', { retries: 2 }))).status).toBe(502);
    expect(provider.requests.map((r) => r.status)).toEqual([500, 502, 502, 502]);
  });

  test('a Retry-After beyond the threshold ends the call with RETRY_AFTER and the wait, without sleeping', async () => {
    const parts = proxyParts(db.sql, { sleep, limits: { maxRetryWaitMs: 5_000 } });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
    provider.failNext(1, 429, '120');
    await expect(parts.proxy.request(target, get('/v1/me'))).rejects.toMatchObject({ code: 'RETRY_AFTER', retryAfterMs: 120_000 });
    expect(waits).toEqual([]);
    // Every process now knows: the next call on this connection is refused before reaching the provider.
    await expect(parts.proxy.request(target, get('/v1/me'))).rejects.toMatchObject({ code: 'RETRY_AFTER' });
    expect(provider.requests).toHaveLength(1);
  });

  test('network errors are retried, then fail as PROVIDER_UNREACHABLE', async () => {
    const parts = proxyParts(db.sql, { sleep });
    const closed = await startTestProvider();
    const url = closed.url;
    await closed.close();
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: url, auth: { type: 'none' } }, { type: 'none' });
    await expect(parts.proxy.request(target, get('/v1/me'))).rejects.toMatchObject({ code: 'PROVIDER_UNREACHABLE' });
    expect(waits).toHaveLength(3);
  });
});

describe('limits', () => {
  test('responses over the size cap and requests over the timeout fail', async () => {
    const parts = proxyParts(db.sql, { sleep, limits: { maxResponseBytes: 1024, timeoutMs: 300 } });
    const { target } = await connect(db.sql, parts, { name: 'p', base_url: provider.url, auth: { type: 'none' } }, { type: 'none' });
    await expect(parts.proxy.request(target, get('/big'))).rejects.toMatchObject({ code: 'RESPONSE_TOO_LARGE' });
    await expect(parts.proxy.request(target, get('/slow', { retries: 0 }))).rejects.toMatchObject({ code: 'PROVIDER_UNREACHABLE', message: expect.stringContaining('timed out') });
  });
});
