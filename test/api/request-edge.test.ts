/**
 * Nothing a request sends can crash the host or earn a 5xx (issue 11), over real HTTP against a
 * whole host: JSON nested 1,000–5,000 deep to actions (sync and async), signed webhooks,
 * connection metadata and connections is a 400 naming the field, as is a proxy request with a
 * bad baseUrlOverride or a header value holding NUL, CR/LF or a lone surrogate. The host carries on.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const ECHO = `
import { createAction } from 'ferry/sdk';
const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };
export default createAction({ description: 'echoes its input', input: anything, output: anything, exec: async (nango, input) => ({ input }) });`;

const WEBHOOK_SECRET = 'a-webhook-secret';
let ferry: TestFerry;

beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, { 'plain/actions/echo.ts': ECHO });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
  expect((await ferry.api.put('/providers/plain/webhook', { signature_header: 'x-signature', secret: WEBHOOK_SECRET, connection_id_path: 'connection' })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
});

/** JSON text nested `depth` levels under `key` (built as text: no process has to hold it). */
const deepJson = (depth: number) => `${'{"d":'.repeat(depth)}1${'}'.repeat(depth)}`;

function expectFieldRefused(response: { status: number; body: any }, field: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.body.error.code).toBe('INVALID_REQUEST');
  expect(response.body.error.issues[0].path.join('.')).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}(\\.|$)`));
  expect(response.body.error.message).toContain(field);
}

async function expectHostCarriesOn(): Promise<void> {
  const { status, body } = await ferry.api.post('/actions/echo', { connection_id: 'c1', input: { shallow: [1, { two: 2 }] } });
  expect(status).toBe(200);
  expect(body.output).toEqual({ input: { shallow: [1, { two: 2 }] } });
}

describe('JSON nested 1,000–5,000 deep is a 400 naming the field', () => {
  test.each([1_000, 3_000, 5_000])('as the input of a synchronous and an asynchronous action (%i levels)', async (depth) => {
    for (const asynchronous of [false, true]) {
      const response = await ferry.api.post('/actions/echo', `{"connection_id":"c1","async":${asynchronous},"input":${deepJson(depth)}}`);
      expectFieldRefused(response, 'body.input');
      expect(response.body.error.message).toContain('nested deeper than 100 levels');
    }
    await expectHostCarriesOn();
  });

  test('as a signed webhook payload', async () => {
    const body = `{"connection":"c1","event":${deepJson(5_000)}}`;
    const signature = createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex');
    const response = await fetch(`${ferry.url}/webhooks/dev/plain`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signature }, body });
    expectFieldRefused({ status: response.status, body: await response.json() }, 'body.event');
    await expectHostCarriesOn();
  });

  test.each([
    ['PUT', '/connections/c1/metadata', `{"deep":${deepJson(5_000)}}`, 'body.deep'],
    ['PATCH', '/connections/c1/metadata', `{"deep":${deepJson(5_000)}}`, 'body.deep'],
    ['POST', '/connections', `{"connection_id":"c2","provider":"plain","metadata":${deepJson(5_000)}}`, 'body.metadata'],
    ['PATCH', '/connections/c1', `{"metadata":${deepJson(5_000)}}`, 'body.metadata'],
  ])('%s %s', async (method, path, body, field) => {
    expectFieldRefused(await ferry.api.request(method, path, body), field);
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual({});
    await expectHostCarriesOn();
  });

  test('at exactly 100 levels a value is still accepted', async () => {
    const input = JSON.parse(deepJson(99));
    const { status, body } = await ferry.api.post('/actions/echo', { connection_id: 'c1', input });
    expect(status).toBe(200);
    expect(body.output).toEqual({ input });
  });
});

describe('POST /connections/:id/proxy refuses what it cannot send, naming the field', () => {
  const proxy = (request: Record<string, unknown>) => ferry.api.post('/connections/c1/proxy', { method: 'GET', endpoint: '/x', ...request });

  test('a baseUrlOverride that is not an absolute http(s) URL', async () => {
    for (const baseUrlOverride of ['x', '/relative', 'ftp://127.0.0.1/', 'javascript:alert(1)']) {
      const response = await proxy({ baseUrlOverride });
      expect(response.status, `${baseUrlOverride}: ${JSON.stringify(response.body)}`).toBe(400);
      expect(response.body.error.issues?.[0]?.path ?? []).toEqual(['body', 'baseUrlOverride']);
    }
  });

  test.each([
    ['NUL', 'a\u0000b'],
    ['CR/LF', 'a\r\nx-injected: 1'],
    ['a lone LF', 'a\nb'],
    ['a lone surrogate', 'a\ud800b'],
    ['a character past U+00FF', 'a\u20acb'],
  ])('a header value with %s', async (_, value) => {
    const response = await proxy({ headers: { 'x-custom': value } });
    expectFieldRefused(response, 'body.headers.x-custom');
  });

  test('a header name that is not an HTTP token', async () => {
    expectFieldRefused(await proxy({ headers: { 'x bad:name': 'v' } }), 'body.headers');
  });
});

describe('a body of millions of values is checked element by element, naming the one that is wrong', () => {
  test('a NUL in the last of 1,500,000 array items is a 400 naming its index; the same array clean passes the walk, refused only for its size', async () => {
    const items: unknown[] = new Array(1_500_000).fill(0);
    items[items.length - 1] = 'a\u0000b';
    const refused = await ferry.api.request('PUT', '/connections/c1/metadata', { big: items });
    expectFieldRefused(refused, 'body.big.1499999');
    expect(refused.body.error.issues[0].path).toEqual(['body', 'big', '1499999']);
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual({});
    items[items.length - 1] = 0;
    // ~3 MB of metadata: past the walk, over the one cap scripts share (CAPS.stateBytes).
    const clean = await ferry.api.request('PUT', '/connections/c1/metadata', { big: items });
    expect(clean.status).toBe(400);
    expect(clean.body.error.issues).toEqual([{ path: ['body'], message: expect.stringMatching(/^metadata is \d+ bytes as JSON, over the \d+-byte cap/) }]);
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual({});
    await expectHostCarriesOn();
  }, 60_000);

  test('a lone surrogate in a key 8 levels down names the first five keys and the key', async () => {
    const body = { a: { b: { c: { d: { e: { f: { g: { 'bad\ud800key': 1 } } } } } } } };
    const refused = await ferry.api.request('PUT', '/connections/c1/metadata', JSON.stringify(body));
    expect(refused.status).toBe(400);
    expect(refused.body.error.issues[0].path).toEqual(['body', 'a', 'b', 'c', 'd', 'e', 'bad\ufffdkey']);
    expect(refused.body.error.message).toContain('lone surrogate');
  });
});
