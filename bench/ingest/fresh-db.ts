/** A fresh, migrated database for one bench run on the machine's Postgres; dropped afterwards. */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import postgres from 'postgres';
import { connectDatabase, type Database, type Sql } from '../../host/db/connect.ts';
import { migrate } from '../../host/db/migrate.ts';
import type { Logger } from '../../host/logger.ts';

export const BENCH_ADMIN_URL = process.env.DATABASE_URL ?? process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase extends Database {
  name: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(logger: Logger): Promise<BenchDatabase> {
  const name = `ferry_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(BENCH_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(BENCH_ADMIN_URL);
  url.pathname = `/${name}`;
  const db = await connectDatabase({ databaseUrl: url.toString(), logger, maxConnections: 4 });
  await migrate(db.sql);
  return {
    ...db,
    name,
    async drop() {
      await db.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * The same client as host/db/connect.ts but with TCP_NODELAY. postgres.js leaves Nagle's algorithm
 * on: a small message written right after a large one (CopyDone after a 1 MB CopyData) waits for
 * the server's delayed ACK, ~40 ms per COPY here. Used to show what that costs.
 */
export function connectNoDelay(url: string): Sql {
  const { hostname, port } = new URL(url);
  // `socket` is supported by postgres.js (a factory returning a connected socket) but not typed.
  const options = {
    max: 4,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    socket: () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ host: hostname, port: Number(port || 5432), noDelay: true });
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      }),
  };
  return postgres(url, options as postgres.Options<{}>) as unknown as Sql;
}
