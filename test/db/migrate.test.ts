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
