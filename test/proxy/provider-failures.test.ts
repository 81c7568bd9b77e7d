/**
 * Provider failures end to end (whole host, real worker processes, a real provider server):
 * a 429 that uses up the proxy's retries is shared — no request of any run on that connection
 * reaches the provider before its Retry-After — and fails the run as RETRY_AFTER, rescheduled
 * after the wait; a provider error names the method, the full URL with credentials redacted
 * (query-string keys and tokens too), the status and the start of the body, in the run's error,
 * the action's error and dryrun's result.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime } from '../../runtime/index.ts';
import { idForThisAttempt, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const API_KEY = 'provider-key-0123456789';
const RETRY_AFTER_S = 3;
const SCRIPTS = fileURLToPath(new URL('./fixtures/failures', import.meta.url));

let ferry: TestFerry;
let server: Server;
let providerUrl: string;
let limiting = true;
/** Every authenticated request: when it arrived and what it was answered. */
const seen: Array<{ path: string; at: number; status: number }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      seen.push({ path: url.pathname, at: Date.now(), status });
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    if (url.searchParams.get('k') !== API_KEY) return answer(401, { error: 'unauthorized' });
    if (limiting) return answer(429, { error: 'slow down' }, { 'retry-after': String(RETRY_AFTER_S) });
    if (url.pathname === '/limited' || url.pathname === '/other') return answer(200, { id: 'thing-1' });
    // A provider that echoes what it was sent, key included, in a long error body.
    return answer(404, { error: 'no such item', echo: `k=${API_KEY}`, detail: 'x'.repeat(2000) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  providerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ferry = await startTestFerry();
  await deployScripts({ dir: SCRIPTS, url: ferry.url, key: TEST_SECRET_KEY });
  // The key travels in the query under a name that does not look secret: the catalog entry says it is.
  for (const name of ['throttled', 'failing']) {
    expect((await ferry.api.put(`/providers/${name}`, { base_url: providerUrl, auth: { type: 'api_key', in: 'query', name: 'k' } })).status).toBe(200);
  }
}, 90_000);
afterAll(async () => {
  await ferry?.close();
  server?.closeAllConnections();
  server?.close();
});

describe('a 429 that uses up the retries', () => {
  test('is shared by every run on the connection, fails the run as RETRY_AFTER and reschedules it after the wait', async () => {
    const conn = idForThisAttempt('thr'); // a connection (and rate-limit state) of its own on each attempt
    limiting = true;
    seen.length = 0;
    // The sync starts on its own as soon as the connection exists.
    expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'throttled', credentials: { type: 'api_key', apiKey: API_KEY } })).status).toBe(201);
    const failed = await waitForRun(ferry.api, conn, 'limited');
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'RETRY_AFTER', retryAfterMs: RETRY_AFTER_S * 1000 });
    expect(failed.error.message).toContain(`GET ${providerUrl}/limited?k=*** answered 429: {"error":"slow down"}`);
    expect(JSON.stringify(failed)).not.toContain(API_KEY);
    // One try and its one retry, the retry only after the first 429's wait.
    expect(seen.map((s) => s.status)).toEqual([429, 429]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 100);

    // The next request on this connection — here not even a run, the API's proxy — waits out the last 429.
    const lastLimited = seen.at(-1)!.at;
    limiting = false;
    const other = await ferry.api.post(`/connections/${conn}/proxy`, { method: 'GET', endpoint: '/other' });
    expect(other.body).toMatchObject({ status: 200 });
    const otherAt = seen.find((s) => s.path === '/other')!.at;
    expect(otherAt - lastLimited).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 100);

    // The scheduler runs the sync again once the wait is over, and it succeeds.
    const [state] = await ferry.db.sql<{ next_run_at: Date }[]>`
      select s.next_run_at from sync_state s join connections c on c.id = s.connection_id where c.connection_id = ${conn}`;
    const next = await waitForRun(ferry.api, conn, 'limited', failed.id, 30_000);
    expect(next.status).toBe('succeeded');
    expect(new Date(next.started_at).getTime() - new Date(failed.finished_at).getTime()).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 250);
    expect(state!.next_run_at.getTime() - new Date(failed.finished_at).getTime()).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 250);
    // No request of any run ever reached the provider inside a wait it had asked for.
    for (let i = 1; i < seen.length; i++) {
      if (seen[i - 1]!.status === 429) expect(seen[i]!.at - seen[i - 1]!.at).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 100);
    }
  }, 60_000);
});

describe('provider errors name the method, the full URL (redacted), the status and the start of the body', () => {
  const expectDescribed = (message: string, method: string) => {
    expect(message).toContain(`${method} ${providerUrl}/v1/missing?q=plain%20value&access_token=***&k=*** answered 404: {"error":"no such item","echo":"k=***"`);
    expect(message).not.toContain(API_KEY);
    expect(message).not.toContain('script-secret-1');
    // The start of the body, not all of it.
    expect(message.length).toBeLessThan(1000);
  };

  beforeAll(async () => {
    limiting = false;
    expect((await ferry.api.post('/connections', { connection_id: 'fail', provider: 'failing', credentials: { type: 'api_key', apiKey: API_KEY } })).status).toBe(201);
  });

  test('in the run error', async () => {
    expect((await ferry.api.post('/syncs/broken/trigger', { connection_id: 'fail' })).status).toBe(202);
    const run = await waitForRun(ferry.api, 'fail', 'broken');
    expect(run.status).toBe('failed');
    expect(run.error.code).toBe('SCRIPT_ERROR');
    expectDescribed(run.error.message, 'GET');
    expect(JSON.stringify(run)).not.toContain(API_KEY);
  }, 30_000);

  test('in the action error', async () => {
    const { status, body } = await ferry.api.post('/actions/fetch-missing', { connection_id: 'fail', input: {} });
    expect(status).toBe(500);
    expectDescribed(body.error.message, 'POST');
    expect(JSON.stringify(body)).not.toContain(API_KEY);
  }, 30_000);

  test('in dryrun output', async () => {
    const logger = createLogger({ level: 'silent' });
    const runtime = createRuntime({ workers: 1, logger });
    try {
      const dry = await dryRun({ name: 'failing/broken', connectionId: 'fail', dir: SCRIPTS, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime });
      expect(dry.result.ok).toBe(false);
      if (dry.result.ok) return;
      expectDescribed(dry.result.error.message, 'GET');
    } finally {
      await runtime.close();
    }
  }, 30_000);

  test('a call that cannot reach the provider names the method and the redacted URL', async () => {
    const created = await ferry.api.put('/providers/gone', { base_url: 'http://127.0.0.1:9', auth: { type: 'api_key', in: 'query', name: 'k' } });
    expect(created.status).toBe(200);
    await ferry.api.post('/connections', { connection_id: 'gone', provider: 'gone', credentials: { type: 'api_key', apiKey: API_KEY } });
    const { status, body } = await ferry.api.post('/connections/gone/proxy', { method: 'GET', endpoint: '/v1/x', params: { token: 'tok-secret-9' }, retries: 0 });
    expect(status).toBe(502);
    expect(body.error.code).toBe('PROVIDER_UNREACHABLE');
    expect(body.error.message).toContain('GET http://127.0.0.1:9/v1/x?token=***&k=*** failed');
    expect(JSON.stringify(body)).not.toContain(API_KEY);
  });
});

