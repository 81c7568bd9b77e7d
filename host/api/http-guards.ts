/**
 * What a client can do to the HTTP server before any route runs: send headers or a body slowly
 * (a slow-loris holds a socket, and its buffers, for Node's default 5 minutes), send headers too
 * large, or bytes that are not HTTP. Node answers those itself with a bare status line and no
 * body; here every such request gets a bounded deadline and the API's JSON error shape.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.ts';

export interface HttpGuardOptions {
  logger: Logger;
}

/** Node's clientError codes → the status and code the API answers with. */
function classify(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
    default:
      return { status: 400, code: 'BAD_REQUEST', message: 'the request is not valid HTTP' };
  }
}

/**
 * Options for http.createServer: Node checks the deadlines only every connectionsCheckingInterval
 * (30 s by default), so that is tightened too, and it can only be set at creation. The headers
 * deadline can stay below the keep-alive timeout: since Node 18 it counts from a request's first
 * byte, not from the socket's last response (test/api/keep-alive), so an idle socket is not cut by it.
 */
export function guardedServerOptions(requestTimeoutMs: number, keepAliveTimeoutMs: number): ServerOptions {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeoutMs / 4))),
  };
}

/** Answers what fails before a route runs (including a missed deadline) with the JSON error shape. */
/**
 * Socket errors that only say the client went away: it closed or reset the connection, often in
 * the middle of a response it no longer wanted (a reader that stops cancels the page it asked for
 * ahead; a client destroys its kept-alive sockets). Node reports those as clientError too, and
 * there is nobody left to answer.
 */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export function guardHttpServer(server: Server, options: HttpGuardOptions): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code !== undefined && PEER_GONE.has(err.code)) {
      options.logger.debug({ code: err.code }, 'a client closed its connection');
      socket.destroy();
      return;
    }
    const { status, code, message } = classify(err.code);
    options.logger.warn({ code: err.code, status }, 'client error before a route ran');
    // A response already under way (or a socket gone) cannot take another status line.
    if (!socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ error: { code, message } });
    socket.end(`HTTP/1.1 ${status} ${code.replaceAll('_', ' ')}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
}
