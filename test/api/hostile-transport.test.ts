/**
 * What a hostile client does below the routes: a body or headers sent slowly and never finished,
 * headers too large, bytes that are not HTTP, a body that is not UTF-8, prototype-pollution keys
 * in every body route of /openapi.json. Each is a 4xx with the API's JSON error shape, within the
 * request deadline; nothing is polluted; the server keeps answering.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const TIMEOUT_MS = 1_500;
let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry({ FERRY_HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });
}, 60_000);
afterAll(async () => { await ferry?.close(); });

interface Raw { status: number; headers: string; body: string; elapsedMs: number }

/** Writes `parts` on a raw socket (waiting `gapMs` between them), then reads until the server closes or answers. */
function raw(parts: Array<string | Buffer>, gapMs = 0, endAfter = false): Promise<Raw> {
  const { hostname, port } = new URL(ferry.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body: rest.join('\r\n\r\n'), elapsedMs: Date.now() - started });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', (err) => (chunks.length ? finish() : reject(err)));
    socket.setTimeout(15_000, () => socket.destroy(new Error('no answer in 15 s')));
    void (async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (endAfter) socket.end();
    })();
  });
}
const errorCode = (r: Raw) => (JSON.parse(r.body) as { error: { code: string; message: string } }).error.code;
const auth = `authorization: Bearer ${TEST_SECRET_KEY}\r\n`;

test('a body that stops arriving is a 408 JSON error at the request deadline, not a socket held for minutes', async () => {
  const r = await raw([`POST /connections HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"connec`]);
  expect(r.status).toBe(408);
  expect(r.headers).toContain('application/json');
  expect(errorCode(r)).toBe('REQUEST_TIMEOUT');
  expect(r.elapsedMs).toBeLessThan(TIMEOUT_MS + 3_000);
}, 20_000);

test('headers sent a byte at a time past the deadline (slow-loris) are cut off the same way', async () => {
  const head = `GET /connections HTTP/1.1\r\nhost: x\r\n${auth}x-slow: ${'a'.repeat(40)}`;
  const r = await raw(head.split(''), 60);
  expect([408, 400]).toContain(r.status);
  expect(r.headers).toContain('application/json');
  expect(r.elapsedMs).toBeLessThan(TIMEOUT_MS + 3_000);
}, 20_000);

test('many stalled clients at once do not stop the server answering others', async () => {
  const stalled = Array.from({ length: 50 }, () => raw([`POST /connections HTTP/1.1\r\nhost: x\r\n${auth}content-length: 100\r\n\r\n{`]));
  const res = await fetch(`${ferry.url}/healthz`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` }, signal: AbortSignal.timeout(15_000) });
  expect(res.status).toBe(200);
  const answers = await Promise.all(stalled);
  expect(answers.map((a) => a.status)).toEqual(Array(50).fill(408));
}, 30_000);

test('headers over the size limit are a 431 JSON error; bytes that are not HTTP a 400 JSON error', async () => {
  const big = await raw([`GET /connections HTTP/1.1\r\nhost: x\r\n${auth}x-big: ${'b'.repeat(70_000)}\r\n\r\n`]);
  expect(big.status).toBe(431);
  expect(errorCode(big)).toBe('HEADERS_TOO_LARGE');
  const garbage = await raw([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x0a, 0x0d, 0x0a, 0x0d, 0x0a])]);
  expect(garbage.status).toBe(400);
  expect(garbage.headers).toContain('application/json');
  expect(errorCode(garbage)).toBe('BAD_REQUEST');
  const badLength = await raw([`POST /connections HTTP/1.1\r\nhost: x\r\ncontent-length: -5\r\n\r\n`]);
  expect(badLength.status).toBe(400);
  expect(errorCode(badLength)).toBe('BAD_REQUEST');
}, 20_000);

test('a body that is not UTF-8 is a 400 JSON error', async () => {
  const body = Buffer.concat([Buffer.from('{"connection_id":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('","provider":"p"}')]);
  const r = await raw([`POST /connections HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n`, body]);
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(typeof errorCode(r)).toBe('string');
}, 20_000);

test('prototype-pollution keys in every body route of /openapi.json: 4xx or a plain success, nothing polluted', async () => {
  const { body: doc } = await ferry.api.get('/openapi.json');
  const bodies = [
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"a":{"__proto__":{"polluted":"yes"}},"metadata":{"__proto__":{"polluted":"yes"}},"input":{"constructor":{"prototype":{"polluted":"yes"}}}}',
  ];
  const statuses: string[] = [];
  for (const [template, operations] of Object.entries<any>(doc.paths)) {
    const path = template.replace(/\{[^}]+\}/g, 'real');
    for (const [method, operation] of Object.entries<any>(operations)) {
      if (!operation.requestBody) continue;
      for (const body of bodies) {
        const res = await fetch(`${ferry.url}${path}`, { method: method.toUpperCase(), headers: { authorization: `Bearer ${TEST_SECRET_KEY}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        if (res.status >= 500) statuses.push(`${res.status} ${method} ${template} ${text.slice(0, 120)}`);
      }
    }
  }
  expect(statuses).toEqual([]);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
}, 120_000);
