/**
 * A TCP proxy between a host and Postgres that loses one commit's answer: while armed, the first
 * connection that sends `client` (bytes of a statement or a parameter) and, if given, is then
 * answered `server` (e.g. a CommandComplete tag), has the answer to its next commit (a COMMIT, or
 * a statement outside a transaction) dropped with the connection. The commit itself happens in
 * Postgres: the host just never hears so.
 * Point the host's DATABASE_URL at `url(databaseUrl)`.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * Each whole message the server sends (type byte, int32 length, body), across chunks: a commit's
 * answer is told by the messages, not by bytes anywhere in a chunk (see startDroppingProxy).
 */
function serverMessages(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const end = 1 + pending.readUInt32BE(1);
      if (pending.length < end) break;
      onMessage(pending.subarray(0, end));
      pending = pending.subarray(end);
    }
  };
}

/** A CommandComplete message with `tag` (e.g. "UPDATE 1"). */
export function commandComplete(tag: string): Buffer {
  const body = Buffer.from(`${tag}\0`);
  const header = Buffer.alloc(5);
  header.write('C', 0);
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

export interface DroppingProxy {
  armed: boolean;
  /** Commit answers dropped so far. */
  dropped: number;
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  url(databaseUrl: string): string;
  close(): Promise<void>;
}

export async function startDroppingProxy(databaseUrl: string, marks: { client: Buffer; server?: Buffer }): Promise<DroppingProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let sent = false;
    let answered = false;
    // A commit's answer: ReadyForQuery, idle ('Z' … 'I'), after a CommandComplete ('C'): it ends a
    // COMMIT and a statement that ran on its own (a sync run's start is one statement). Inside a
    // transaction the status is 'T'; a Describe alone (a statement's first use) completes nothing.
    let completed = false;
    let dropping = false;
    const read = serverMessages((message) => {
      if (dropping) return;
      if (sent && proxy.armed && marks.server && message.includes(marks.server)) answered = true;
      if (message[0] === 0x43) completed = true;
      if (message[0] !== 0x5a) return;
      const commits = completed && message[5] === 0x49;
      completed = false;
      if (!commits) return;
      if (sent && (answered || !marks.server) && proxy.armed) {
        proxy.armed = false;
        proxy.dropped++;
        dropping = true;
        return;
      }
      // A transaction that sent the mark but was not answered so ends here; the next one starts afresh.
      sent = answered = false;
    });
    client.on('data', (chunk: Buffer) => {
      if (proxy.armed && chunk.includes(marks.client)) sent = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      read(chunk);
      if (dropping) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  const proxy: DroppingProxy = {
    armed: false,
    dropped: 0,
    url(url) {
      const through = new URL(url);
      through.host = `127.0.0.1:${port}`;
      return through.toString();
    },
    close: () => new Promise((done) => { for (const s of sockets) s.destroy(); server.close(() => done()); }),
  };
  return proxy;
}
