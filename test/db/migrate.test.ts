import { afterAll, beforeAll, expect, test } from 'vitest';
import { migrate } from '../../host/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db?.drop(); });

test('migrations apply once: a second run applies nothing', async () => {
  const rows = await db.sql<{ name: string }[]>`select name from ferry_migrations order by name`;
  expect(rows.map((r) => r.name)).toContain('0001_init.sql');
  expect(await migrate(db.sql)).toEqual([]);
});

test('docs/production.md\'s way past 0601 on a large runs table: its index built CONCURRENTLY and the migration marked applied, a start applies nothing and the index holds', async () => {
  // As a database from before 0601 is, with the operator's two statements run on it.
  await db.sql`drop index runs_action_once`;
  await db.sql`delete from ferry_migrations where name = '0601_action_runs_once.sql'`;
  await db.sql.unsafe(`create unique index concurrently if not exists runs_action_once on runs (job_id) where kind = 'action' and job_id is not null`);
  await db.sql`insert into ferry_migrations (name) values ('0601_action_runs_once.sql')`;
  expect(await migrate(db.sql)).toEqual([]);
  const [index] = await db.sql<{ valid: boolean; unique: boolean }[]>`
    select i.indisvalid as valid, i.indisunique as unique from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'runs_action_once'`;
  expect(index).toEqual({ valid: true, unique: true });
});
