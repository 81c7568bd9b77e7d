/** A fresh, migrated database for one bench run on the machine's Postgres; dropped afterwards. */
import { randomBytes } from 'node:crypto';
import postgres from '@ferry/postgres';
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
 * A plain postgres.js client, Nagle's algorithm on (postgres.js's own socket): what the host used
 * before host/db/no-delay-socket.ts. Kept to show what TCP_NODELAY earns.
 */
export function connectNagle(url: string): Sql {
  return postgres(url, { max: 4, onnotice: () => {} }) as unknown as Sql;
}
