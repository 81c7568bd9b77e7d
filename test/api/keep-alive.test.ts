/**
 * An idle keep-alive socket stays open for FERRY_HTTP_KEEP_ALIVE_TIMEOUT_MS, then the host
 * closes it. Node's default (5 s) closed sockets a load balancer with a longer idle timeout (AWS
 * ALB: 60 s) still pooled, and the request it sent on one next failed ("socket hang up"). A raw
 * client on 127.0.0.1 sends a request, stays idle longer than Node's default would keep the
 * socket (and longer than the request deadline, which must not cut an idle socket either), sends
 * another on the same socket, and then sees the host close it. The configured timeout is small so
 * the test is short.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';

const KEEP_ALIVE_MS = 10_000;
/** Past Node's default keep-alive (5 s, plus its 1 s socket buffer), well inside KEEP_ALIVE_MS. */
const IDLE_MS = 7_000;

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry({ FERRY_HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS), FERRY_HTTP_REQUEST_TIMEOUT_MS: '2000' });
}, 60_000);
afterAll(async () => { await ferry?.close(); });

/** A socket whose whole responses (headers and content-length body) are read one at a time. */
function client(socket: Socket) {
  let pending = '';
  let ended = false;
  const waiting: Array<() => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => { pending += chunk; waiting.splice(0).forEach((w) => w()); });
  socket.on('end', () => { ended = true; waiting.splice(0).forEach((w) => w()); });
  return {
    ended: () => ended,
    async get(path: string): Promise<{ status: number; headers: string }> {
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ferry\r\n\r\n`);
      for (;;) {
        const head = pending.indexOf('\r\n\r\n');
        if (head >= 0) {
          const headers = pending.slice(0, head).toLowerCase();
          const length = Number(/content-length: (\d+)/.exec(headers)?.[1] ?? 0);
          if (pending.length >= head + 4 + length) {
            pending = pending.slice(head + 4 + length);
            return { status: Number(headers.slice(9, 12)), headers };
          }
        }
        if (ended) throw new Error('the host closed the socket before answering');
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
  };
}

test('an idle socket is kept open for the configured keep-alive timeout, reused after a pause longer than Node\'s default, then closed by the host', async () => {
  const { hostname, port } = new URL(ferry.url);
  const socket = connect({ host: hostname, port: Number(port) });
  try {
    const http = client(socket);
    const first = await http.get('/healthz');
    expect(first.status).toBe(200);
    expect(first.headers).toContain(`keep-alive: timeout=${KEEP_ALIVE_MS / 1000}`);

    // The idle time is what is tested: the socket must outlive it.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    expect(http.ended()).toBe(false);
    expect((await http.get('/healthz')).status).toBe(200);

    await waitFor('the host to close the idle socket', async () => (http.ended() ? true : undefined), KEEP_ALIVE_MS + 20_000);
  } finally {
    socket.destroy();
  }
}, 60_000);
