/**
 * A client that resets its connection in the middle of a response (a reader that stops and drops
 * the page it asked for ahead, a client destroying its kept-alive sockets) is a normal end, not
 * an error: Node reports the reset as a clientError, and the guard (host/api/http-guards.ts) used
 * to log it as a warning, "client error before a route ran", status 400, on every such reader
 * (bench/api's host logged them). Bytes that are not HTTP are still a warning and a 400 in JSON.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { guardHttpServer } from '../../host/api/http-guards.ts';
import { createLogger } from '../../host/logger.ts';
import { waitFor } from '../helpers/ferry.ts';

const lines: Array<{ level: number; msg: string; code?: string }> = [];
const destination = new Writable({ write(chunk, _encoding, done) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); done(); } });
let server: Server;
let port: number;
let closedResponses = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    // A long response, written until the client is gone.
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024, 0x20)), 5);
    res.on('close', () => { clearInterval(timer); closedResponses++; });
  });
  guardHttpServer(server, { logger: createLogger({ level: 'debug', destination }) });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => { await new Promise((done) => server.close(done)); });

test('a client that resets its connection mid-response is logged at debug, not as a warning', async () => {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((ok) => socket.once('connect', ok));
  socket.write('GET /records HTTP/1.1\r\nhost: x\r\n\r\n');
  await new Promise<void>((ok) => socket.once('data', () => ok()));
  socket.resetAndDestroy();
  await waitFor('the server to see the reset', async () => (lines.some((l) => l.msg === 'a client closed its connection') ? true : undefined));
  await waitFor('the response to close', async () => (closedResponses > 0 ? true : undefined));
  expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  expect(['ECONNRESET', 'EPIPE', 'ECONNABORTED']).toContain(lines.find((l) => l.msg === 'a client closed its connection')!.code);
});

test('bytes that are not HTTP are still a warning and a 400 in the JSON error shape', async () => {
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => { answer += chunk; });
  const ended = new Promise<void>((ok) => socket.on('close', () => ok()));
  socket.write('NOT HTTP AT ALL\r\n\r\n');
  await ended;
  expect(answer).toMatch(/^HTTP\/1\.1 400 BAD REQUEST/);
  expect(answer).toContain('"code":"BAD_REQUEST"');
  expect(lines.some((l) => l.level === 40 && l.msg === 'client error before a route ran')).toBe(true);
});
