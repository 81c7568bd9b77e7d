/**
 * Provider-level default headers (Nango's `proxy.headers`): a provider server on 127.0.0.1 that,
 * like Notion, refuses every call without `Notion-Version`. A Nango script that never sets it runs
 * on every path: deployed on the host (an action called over the API), `ferry dryrun` through the
 * host's proxy, and `ferry/testing` (the built-in catalogue's Notion entry, or the headers a test
 * gives). The script's own header wins over the provider's; the auth header stays the host's.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dryRun } from '../../cli/dryrun.ts';
import { builtinProvider } from '../../host/connections/providers.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const TOKEN = 'notion-secret-token';
const VERSION = '2022-06-28';

/** Answers with what it was sent; refuses (400, as Notion does) a call without the version header. */
const ME_ACTION = `
  import { createAction } from 'nango';
  import { z } from 'zod';
  export default createAction({
    description: 'who am I', input: z.object({ flavour: z.string().optional() }), output: z.any(),
    exec: async (nango, input) => {
      const headers: Record<string, string> = { 'X-Script': 'mine', Authorization: 'Bearer forged' };
      if (input.flavour) headers['X-Flavour'] = input.flavour;
      const { data } = await nango.get({ endpoint: '/v1/users/me', headers });
      return data;
    } });`;

let server: Server;
let base: string;
const received: IncomingHttpHeaders[] = [];
let ferry: TestFerry;
let runtime: Runtime;
let dir: string;
const logger = createLogger({ level: 'silent' });
const tester = createScriptTester();

beforeAll(async () => {
  server = createServer((req, res) => {
    received.push(req.headers);
    res.setHeader('content-type', 'application/json');
    if (req.headers['notion-version'] !== VERSION) {
      res.statusCode = 400;
      res.end(JSON.stringify({ object: 'error', code: 'missing_version', message: 'Notion-Version header failed validation' }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.statusCode = 401;
      res.end(JSON.stringify({ object: 'error', code: 'unauthorized' }));
      return;
    }
    res.end(JSON.stringify({ object: 'user', flavour: req.headers['x-flavour'] ?? null, script: req.headers['x-script'] ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  dir = await mkdtemp(join(tmpdir(), 'ferry-provider-headers-'));
  await mkdir(join(dir, 'notion', 'actions'), { recursive: true });
  await writeFile(join(dir, 'notion', 'actions', 'me.ts'), ME_ACTION);
}, 120_000);
afterAll(async () => {
  await tester.close();
  await runtime?.close();
  await ferry?.close();
  await new Promise((resolve) => server.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('on the host', () => {
  test('a provider entry refuses host-owned or malformed headers with a 400 naming the header', async () => {
    const put = (headers: unknown) => ferry.api.put('/providers/notion', { base_url: base, auth: { type: 'bearer' }, headers });
    const owned = await put({ Authorization: 'Bearer x' });
    expect(owned.status).toBe(400);
    expect(owned.body.error.message).toMatch(/"Authorization" is set by the host/);
    const badName = await put({ 'Notion Version': VERSION });
    expect(badName.status).toBe(400);
    expect(badName.body.error.message).toMatch(/"Notion Version" is not a header name/);
    const injected = await put({ 'Notion-Version': `${VERSION}\r\nX-Evil: 1` });
    expect(injected.status).toBe(400);
    expect(injected.body.error.message).toMatch(/line break/);
  });

  test("a deployed action gets the provider's header under its own; its own wins; the host keeps the auth header", async () => {
    // The environment's entry replaces the built-in one by name: it carries the header itself.
    const put = await ferry.api.put('/providers/notion', { base_url: base, auth: { type: 'bearer' }, headers: { 'Notion-Version': VERSION, 'X-Flavour': 'provider' } });
    expect(put.status).toBe(200);
    expect((await ferry.api.get('/providers/notion')).body.headers).toEqual({ 'Notion-Version': VERSION, 'X-Flavour': 'provider' });
    expect((await ferry.api.post('/connections', { connection_id: 'notion-1', provider: 'notion', credentials: { type: 'bearer', token: TOKEN } })).status).toBe(201);
    await deploySources(ferry, { 'notion/actions/me.ts': ME_ACTION });

    received.length = 0;
    const plain = await ferry.api.post('/actions/me', { connection_id: 'notion-1', input: {} });
    expect(plain.status).toBe(200);
    expect(plain.body.output).toEqual({ object: 'user', flavour: 'provider', script: 'mine' });
    expect(received).toHaveLength(1);
    expect(received[0]!.authorization).toBe(`Bearer ${TOKEN}`);

    const own = await ferry.api.post('/actions/me', { connection_id: 'notion-1', input: { flavour: 'script' } });
    expect(own.body.output.flavour).toBe('script');
  });

  test('without the header in the entry the same call is refused: it is the entry that makes it pass', async () => {
    expect((await ferry.api.put('/providers/notion', { base_url: base, auth: { type: 'bearer' } })).status).toBe(200);
    const refused = await ferry.api.post('/actions/me', { connection_id: 'notion-1', input: {} });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(refused.body)).toMatch(/400/);
    expect((await ferry.api.put('/providers/notion', { base_url: base, auth: { type: 'bearer' }, headers: { 'Notion-Version': VERSION } })).status).toBe(200);
  });
});

test('ferry dryrun sends through the host proxy, which adds the header', async () => {
  expect((await ferry.api.put('/providers/notion', { base_url: base, auth: { type: 'bearer' }, headers: { 'notion-version': VERSION } })).status).toBe(200);
  received.length = 0;
  const run = await dryRun({ name: 'notion/me', connectionId: 'notion-1', input: {}, dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime });
  expect(run.result.ok ? run.result.output : run.result.error).toEqual({ object: 'user', flavour: null, script: 'mine' });
  expect(received[0]!['notion-version']).toBe(VERSION);
});

describe('ferry/testing', () => {
  const script = () => join(dir, 'notion', 'actions', 'me.ts');
  const live = () => liveProxy({ baseUrl: base, headers: { authorization: `Bearer ${TOKEN}` } });

  test("the built-in Notion entry carries Notion-Version, so a script under notion/ passes as on the host", async () => {
    expect(builtinProvider('notion')?.headers).toEqual({ 'notion-version': VERSION });
    received.length = 0;
    const run = await tester.run({ script: script(), proxy: live(), input: {} });
    expect(run.error).toBeUndefined();
    expect(run.output).toEqual({ object: 'user', flavour: null, script: 'mine' });
    // The script's forged Authorization never leaves, as on the host; the test's own credentials go.
    expect(received[0]!.authorization).toBe(`Bearer ${TOKEN}`);
    // What the script itself asked for is recorded as it asked.
    expect(run.requests[0]!.headers).toEqual({ 'X-Script': 'mine', Authorization: 'Bearer forged' });
  });

  test("a test's own headers replace the built-in ones; without the version the server refuses", async () => {
    const refused = await tester.run({ script: script(), proxy: live(), input: {}, headers: {} });
    expect(refused.ok).toBe(false);
    expect(refused.error?.message).toMatch(/400/);
    const given = await tester.run({ script: script(), proxy: live(), input: { flavour: 'script' }, headers: { 'Notion-Version': VERSION, 'x-flavour': 'test' } });
    expect(given.output).toEqual({ object: 'user', flavour: 'script', script: 'mine' });
  });
});
