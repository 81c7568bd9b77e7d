/**
 * An absolute endpoint (a next-page URL a provider answered with) is resolved by one function on
 * the host's proxy and on `ferry/testing`'s `liveProxy`, so a dry run against the real provider
 * and a deployed run agree: one on the provider's origin goes where it points (not under the base
 * URL's path again), with the connection's credentials; one on another host (another port here),
 * a baseUrlOverride there, or a redirect there is refused before anything is sent, so that host
 * never sees the credentials. Real Postgres, real provider servers on 127.0.0.1, and a script
 * in the runtime for the liveProxy path.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ProxyRequest } from '../../runtime/contract.ts';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connect, get, proxyParts } from './harness.ts';
import { startTestProvider, type TestProvider } from './provider-server.ts';

let db: TestDatabase;
let provider: TestProvider;
let other: TestProvider;
let dir: string;
const tester = createScriptTester();

beforeAll(async () => {
  db = await createTestDatabase();
  [provider, other] = await Promise.all([startTestProvider(), startTestProvider()]);
  dir = await mkdtemp(join(tmpdir(), 'ferry-absolute-endpoint-'));
});
afterAll(async () => {
  await tester.close();
  await Promise.all([provider?.close(), other?.close()]);
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** What a call came to: the answer, or the refusal's code. */
async function outcome(call: Promise<{ status: number; body: string }>) {
  return call.then(({ status, body }) => ({ status, body: JSON.parse(body) as unknown }), (error: { code?: string }) => ({ refused: error.code }));
}

test('the host and liveProxy send an absolute endpoint alike: on the provider origin with credentials, never to another host', async () => {
  const parts = proxyParts(db.sql);
  // The base URL has a path, which an absolute endpoint does not go under.
  const { target } = await connect(db.sql, parts, { name: 'p', base_url: `${provider.url}/base`, auth: { type: 'bearer' } }, { type: 'bearer', token: provider.bearer });
  const live = liveProxy({ baseUrl: `${provider.url}/base`, headers: { authorization: `Bearer ${provider.bearer}` } });

  const cases: Array<{ request: ProxyRequest; expected: unknown; path?: string }> = [
    { request: get(`${provider.url}/v1/me?from=link`), expected: { status: 200, body: { who: 'bearer' } }, path: '/v1/me' },
    { request: get(`${other.url}/v1/me`), expected: { refused: 'INVALID_ENDPOINT' } },
    { request: get(`${provider.url.replace('http:', 'https:')}/v1/me`), expected: { refused: 'INVALID_ENDPOINT' } },
    { request: get(`${provider.url}/v1/me`, { baseUrlOverride: provider.url }), expected: { refused: 'INVALID_ENDPOINT' } },
    { request: get('/v1/me', { baseUrlOverride: other.url }), expected: { refused: 'INVALID_BASE_URL_OVERRIDE' } },
    { request: get('/redirect/away', { baseUrlOverride: provider.url }), expected: { refused: 'REDIRECT_BLOCKED' } },
  ];
  for (const { request, expected, path } of cases) {
    const sent = provider.requests.length;
    const host = await outcome(parts.proxy.request(target, request));
    const hostPaths = provider.requests.slice(sent).map((r) => r.path);
    const fromLive = await outcome(live(request));
    const livePaths = provider.requests.slice(sent + hostPaths.length).map((r) => r.path);
    expect({ endpoint: request.endpoint, host }).toEqual({ endpoint: request.endpoint, host: expected });
    expect({ endpoint: request.endpoint, live: fromLive }).toEqual({ endpoint: request.endpoint, live: expected });
    expect(livePaths).toEqual(hostPaths);
    if (path) {
      expect(hostPaths).toEqual([path]);
      expect(provider.requests.at(-1)).toMatchObject({ query: { from: 'link' }, authorization: `Bearer ${provider.bearer}` });
    }
  }
  // The other host was never called: no credentials reached it.
  expect(other.requests).toHaveLength(0);
});

test("a script following an absolute link through liveProxy gets the host's answer and the host's refusal", async () => {
  await mkdir(join(dir, 'probe', 'actions'), { recursive: true });
  const script = join(dir, 'probe', 'actions', 'follow.ts');
  await writeFile(script, `
    import { createAction } from 'nango';
    import { z } from 'zod';
    export default createAction({ description: 'follows absolute links', input: z.object({ same: z.string(), away: z.string() }), output: z.object({ who: z.string(), away: z.string() }),
      exec: async (nango, input) => {
        const same = await nango.get({ endpoint: input.same });
        const away = await nango.get({ endpoint: input.away }).then(() => 'sent', (error) => String(error.code));
        return { who: same.data.who, away };
      } });`);
  const sent = provider.requests.length;
  const run = await tester.run({
    script,
    proxy: liveProxy({ baseUrl: `${provider.url}/base`, headers: { authorization: `Bearer ${provider.bearer}` } }),
    input: { same: `${provider.url}/v1/me`, away: `${other.url}/v1/me` },
  });
  expect(run.error).toBeUndefined();
  expect(run.output).toEqual({ who: 'bearer', away: 'INVALID_ENDPOINT' });
  expect(provider.requests.slice(sent).map((r) => r.path)).toEqual(['/v1/me']);
  expect(other.requests).toHaveLength(0);
});
