/**
 * Each test file gets its own database on the machine's PostgreSQL, migrated, and dropped at
 * the end (kept when FERRY_KEEP_TEST_DB=1, to inspect a failure).
 */
import { randomBytes } from 'node:crypto';
import postgres from '@ferry/postgres';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { migrate } from '../../host/db/migrate.ts';
import { createLogger } from '../../host/logger.ts';

export const ADMIN_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase extends Database {
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix = 'ferry_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = await connectDatabase({ databaseUrl: url.toString(), logger: createLogger({ level: 'silent' }) });
  await migrate(db.sql);
  return {
    ...db,
    name,
    async drop() {
      await db.close();
      if (process.env.FERRY_KEEP_TEST_DB !== '1') await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
