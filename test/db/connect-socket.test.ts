import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import { connectDatabase } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const logger = createLogger({ level: 'silent' });
let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db?.drop(); });
afterEach(() => { vi.restoreAllMocks(); vi.unstubAllEnvs(); });

test('the host connects to Postgres over TCP with Nagle off, and COPY and queries work on that socket', async () => {
  const connect = vi.spyOn(net, 'connect');
  const client = await connectDatabase({ databaseUrl: db.url, logger, maxConnections: 2 });
  try {
    await client.sql`create table socket_probe (n int)`;
    const writable = await client.sql.unsafe('copy socket_probe (n) from stdin').writable();
    await pipeline(Readable.from(['1\n2\n3\n']), writable);
    const [row] = await client.sql<{ n: number }[]>`select sum(n)::int as n from socket_probe`;
    expect(row!.n).toBe(6);
  } finally {
    await client.close();
  }
  const { hostname, port } = new URL(db.url);
  expect(connect).toHaveBeenCalledWith(expect.objectContaining({ host: hostname, port: Number(port), noDelay: true }));
});

test('PGHOST naming a Unix socket directory (a URL without a host) is reached through that socket', async () => {
  // A Unix socket in front of the test server, in a directory as libpq and postgres.js name it.
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pgsock-'));
  const { hostname, port } = new URL(db.url);
  const relay = net.createServer((inbound) => {
    const outbound = net.connect({ host: hostname, port: Number(port) });
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(join(dir, `.s.PGSQL.${port}`), resolve));
  let relayed = 0;
  relay.on('connection', () => relayed++);
  vi.stubEnv('PGHOST', dir);
  vi.stubEnv('PGPORT', port);
  vi.stubEnv('PGUSER', new URL(db.url).username);
  const client = await connectDatabase({ databaseUrl: `postgres:///${db.name}`, logger, maxConnections: 1 });
  try {
    const [row] = await client.sql<{ db: string }[]>`select current_database() as db`;
    expect(row!.db).toBe(db.name);
    expect(relayed).toBe(1);
  } finally {
    await client.close();
    await new Promise((resolve) => relay.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});
