/**
 * Applies host/db/migrations/NNNN_name.sql in order, once, all pending ones in one transaction
 * (a start applies all or none; a lock a migration takes is held to that commit: see
 * docs/production.md on 0601's index). An advisory lock makes concurrent starts (several workers
 * booting at once) safe.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Sql } from './connect.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const LOCK_KEY = 0x6665_7272; // "ferr"

export async function migrate(sql: Sql): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`create table if not exists ferry_migrations (name text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ name: string }[]>`select name from ferry_migrations`).map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const text = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
      await tx.unsafe(text);
      await tx`insert into ferry_migrations (name) values (${file})`;
      applied.push(file);
    }
  });
  return applied;
}
