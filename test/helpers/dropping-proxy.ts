/**
 * A TCP proxy between a host and Postgres that loses one COMMIT's answer: while armed, the first
 * connection that sends `client` (bytes of a statement or a parameter) and, if given, is then
 * answered `server` (e.g. a CommandComplete tag), has the answer to its next COMMIT dropped with
 * the connection. The COMMIT itself reaches Postgres and commits: the host just never hears so.
 * Point the host's DATABASE_URL at `url(databaseUrl)`.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A CommandComplete message for COMMIT: 'C', int32 length 11, "COMMIT\0". */
const COMMIT_COMPLETE = Buffer.from([0x43, 0, 0, 0, 11, ...Buffer.from('COMMIT'), 0]);

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
  /** COMMIT answers dropped so far. */
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
    client.on('data', (chunk: Buffer) => {
      if (proxy.armed && chunk.includes(marks.client)) sent = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (sent && proxy.armed && (!marks.server || chunk.includes(marks.server))) answered = true;
      if (answered && proxy.armed && chunk.includes(COMMIT_COMPLETE)) {
        proxy.armed = false;
        proxy.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      // A transaction that sent the mark but was not answered so ends here; the next one starts afresh.
      if (chunk.includes(COMMIT_COMPLETE)) sent = answered = false;
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
