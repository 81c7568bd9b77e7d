/**
 * A TCP relay between a Postgres client and the server, for tests that must control when the
 * server's bytes reach the client: "the rows are still arriving" or "Postgres is blocked writing"
 * become facts the test sets, not races it hopes to win. Client → server always flows freely (a
 * cancel request, on a connection of its own, gets through).
 */
import net from 'node:net';

export interface PgRelay {
  /** The port to put in the client's database URL. */
  port: number;
  /** From now on, the clients receive at most `bytes` more; the rest is read and held here. */
  throttle(bytes: number): void;
  /**
   * From now on, the first connection's bytes beyond `bytes` more are not read at all: the
   * kernel's buffers fill and the backend blocks writing (pg_stat_activity: ClientWrite).
   */
  stopReadingAfter(bytes: number): void;
  /** Lets everything through again: held bytes are delivered, a stopped connection read. */
  release(): void;
  /** Server → client bytes the first connection has received so far. */
  readonly firstConnectionBytes: number;
  close(): Promise<void>;
}

export async function startPgRelay(databaseUrl: string): Promise<PgRelay> {
  const url = new URL(databaseUrl);
  let allowance = Infinity;
  let stopAt = Infinity;
  let firstBytes = 0;
  let first: net.Socket | null = null;
  const held: Array<{ to: net.Socket; chunk: Buffer }> = [];
  const sockets = new Set<net.Socket>();
  const deliver = (to: net.Socket, chunk: Buffer) => {
    if (held.length > 0 || chunk.length > allowance) {
      const pass = Math.max(0, Math.min(chunk.length, allowance));
      if (pass > 0) to.write(chunk.subarray(0, pass));
      held.push({ to, chunk: chunk.subarray(pass) });
      allowance -= pass;
    } else {
      allowance -= chunk.length;
      to.write(chunk);
    }
  };
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: url.hostname, port: Number(url.port || 5432) });
    sockets.add(inbound).add(outbound);
    const isFirst = first === null;
    if (isFirst) first = outbound;
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      deliver(inbound, chunk);
      if (!isFirst) return;
      firstBytes += chunk.length;
      if (firstBytes > stopAt) outbound.pause();
    });
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    throttle: (bytes) => { allowance = bytes; },
    stopReadingAfter: (bytes) => { stopAt = firstBytes + bytes; },
    release: () => {
      allowance = Infinity;
      stopAt = Infinity;
      for (const { to, chunk } of held.splice(0)) to.write(chunk);
      first?.resume();
    },
    get firstConnectionBytes() { return firstBytes; },
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

/** `databaseUrl` with its port replaced by the relay's. */
export function relayedUrl(databaseUrl: string, relay: PgRelay): string {
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(relay.port);
  return url.toString();
}
