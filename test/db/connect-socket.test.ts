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

test('rows read through the socket\'s one reused read buffer arrive whole: messages cut across reads, values bigger than the buffer, raw values kept past their read', async () => {
  const client = await connectDatabase({ databaseUrl: db.url, logger, maxConnections: 1 });
  try {
    // Sizes from a few bytes to 3× the 64 KB read buffer, so messages and their 5-byte headers
    // land across read boundaries at many offsets; Postgres' md5 of each value is the reference.
    const rows = await client.sql<{ n: number; body: string; digest: string }[]>`
      select n, body, md5(body) as digest from (
        select n, repeat(chr(97 + n % 26), (n * 7919) % 200000 + 1) as body from generate_series(1, 400) n
      ) s order by n`;
    expect(rows).toHaveLength(400);
    const { createHash } = await import('node:crypto');
    for (const row of rows) expect(createHash('md5').update(row.body).digest('hex'), `row ${row.n}`).toBe(row.digest);

    // .raw() keeps Buffers of the values past the read that carried them: copies, not views.
    const raw = await client.sql`select repeat('x', 100000) as a, repeat('y', 3) as b from generate_series(1, 5)`.raw();
    for (const [a, b] of raw as unknown as Buffer[][]) {
      expect(a!.toString()).toBe('x'.repeat(100000));
      expect(b!.toString()).toBe('yyy');
    }
  } finally {
    await client.close();
  }
});
