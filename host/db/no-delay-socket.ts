/**
 * postgres.js connects with Nagle's algorithm on. Then a small message written right behind a
 * large one (CopyDone after a 1 MB CopyData, Execute/Sync after a 1 MB Bind) waits for the
 * server's delayed ACK, up to ~40 ms per statement on Linux (bench/ingest measures both socket
 * modes). This factory, passed as postgres.js's `socket` option, connects where postgres.js
 * would — the URL's Unix socket path, or its hosts in turn on each new connection — with
 * TCP_NODELAY. It returns the socket while it is still connecting: postgres.js starts writing
 * at once (the socket queues the bytes until connected), its connect_timeout still applies, and
 * TLS, when asked for, is negotiated over this socket as usual.
 *
 * Without TLS the socket also reads into one buffer of its own, reused for every read, instead of
 * a new one per read: those buffers (~1 MB per GET /records page) made the host run a full garbage
 * collection every ~10 pages, costing as much CPU on V8's threads as the page itself on the main
 * thread (bench/api/store-cpu.ts). The driver (our fork, packages/postgres) copies whatever it
 * keeps past a read when the socket says `reusesReadBuffer`; during authentication the server
 * waits for each answer, so nothing overwrites a message an auth step is still reading.
 */
import net from 'node:net';

/** The part of postgres.js's parsed options a socket needs. */
interface SocketTarget {
  host: string[];
  port: number[];
  path?: string | false;
  ssl?: unknown;
}

/** postgres.js reads 'data' events; a socket with `onread` hands its reads to a callback instead. */
const READ_BUFFER_BYTES = 64 * 1024;

function connectReusingReadBuffer(target: net.NetConnectOpts): net.Socket {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const socket: net.Socket = net.connect({
    ...target,
    // Returning true keeps reading: a pause() (postgres.js's COPY backpressure) stops the handle itself.
    onread: { buffer, callback: (bytes) => { socket.emit('data', buffer.subarray(0, bytes)); return true; } },
  });
  return Object.assign(socket, { reusesReadBuffer: true });
}

export function noDelaySocketFactory(): (options: SocketTarget) => net.Socket {
  let next = 0;
  return (options) => {
    // A TLS socket takes over the plain one's reads, so it keeps the stream's own buffers.
    const connect = options.ssl ? (target: net.NetConnectOpts) => net.connect(target) : connectReusingReadBuffer;
    if (options.path) return connect({ path: options.path });
    const i = next++ % options.host.length;
    const host = options.host[i]!;
    const socket = connect({ host, port: options.port[i] ?? 5432, noDelay: true });
    // postgres.js names the TLS server by `socket.host` (as on the sockets it creates itself).
    return Object.assign(socket, { host });
  };
}
