/**
 * postgres.js connects with Nagle's algorithm on. Then a small message written right behind a
 * large one (CopyDone after a 1 MB CopyData, Execute/Sync after a 1 MB Bind) waits for the
 * server's delayed ACK, up to ~40 ms per statement on Linux (bench/ingest measures both socket
 * modes). This factory, passed as postgres.js's `socket` option, connects where postgres.js
 * would — the URL's Unix socket path, or its hosts in turn on each new connection — with
 * TCP_NODELAY. It returns the socket while it is still connecting: postgres.js starts writing
 * at once (the socket queues the bytes until connected), its connect_timeout still applies, and
 * TLS, when asked for, is negotiated over this socket as usual.
 */
import net from 'node:net';

/** The part of postgres.js's parsed options a socket needs. */
interface SocketTarget {
  host: string[];
  port: number[];
  path?: string | false;
}

export function noDelaySocketFactory(): (options: SocketTarget) => net.Socket {
  let next = 0;
  return (options) => {
    if (options.path) return net.connect({ path: options.path });
    const i = next++ % options.host.length;
    const host = options.host[i]!;
    const socket = net.connect({ host, port: options.port[i] ?? 5432, noDelay: true });
    // postgres.js names the TLS server by `socket.host` (as on the sockets it creates itself).
    return Object.assign(socket, { host });
  };
}
