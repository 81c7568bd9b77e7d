/**
 * Migration 0140 (sync variants) on a database that already has data: every existing pair and
 * run becomes the 'base' variant with its state kept, records keep their plain model name, and
 * two variants of a pair may then run side by side while one variant still runs at most once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { migrate } from '../../host/db/migrate.ts';
import { ADMIN_URL } from '../helpers/db.ts';

const MIGRATIONS = new URL('../../host/db/migrations/', import.meta.url);
const name = `ferry_test_variants_${randomBytes(5).toString('hex')}`;
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
let sql: postgres.Sql;

beforeAll(async () => {
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  // The schema as it was before variants, as migrate() would have left it.
  await sql`create table ferry_migrations (name text primary key, applied_at timestamptz not null default now())`;
  const files = (await readdir(MIGRATIONS)).filter((f) => /^\d{4}_.+\.sql$/.test(f) && f < '0140').sort();
  for (const file of files) {
    await sql.unsafe(await readFile(new URL(file, MIGRATIONS), 'utf8'));
    await sql`insert into ferry_migrations (name) values (${file})`;
  }
});
afterAll(async () => {
  await sql?.end();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

test('existing pairs, runs and records become the base variant, unchanged', async () => {
  const [env] = await sql<{ id: string }[]>`insert into environments (name) values ('e') returning id`;
  const [conn] = await sql<{ id: string }[]>`insert into connections (environment_id, connection_id, provider) values (${env!.id}, 'c', 'p') returning id`;
  const last = new Date('2026-01-02T03:04:05Z');
  await sql`insert into sync_state (connection_id, sync_name, frequency_ms, last_sync_date, checkpoint) values (${conn!.id}, 's', 60000, ${last}, '{"page":3}')`;
  await sql`insert into runs (connection_id, script_name, kind, script_version, status, trigger) values (${conn!.id}, 's', 'sync', 1, 'running', 'schedule')`;
  await sql`insert into records (connection_id, model, id, data, hash) values (${conn!.id}, 'Item', '1', '{}', 'h')`;

  expect(await migrate(sql as never)).toContain('0140_sync_variants.sql');

  const [state] = await sql<{ variant: string; last_sync_date: Date; checkpoint: unknown }[]>`select variant, last_sync_date, checkpoint from sync_state`;
  expect(state).toEqual({ variant: 'base', last_sync_date: last, checkpoint: { page: 3 } });
  expect(await sql`select variant from runs`).toEqual([{ variant: 'base' }]);
  expect(await sql`select model from records`).toEqual([{ model: 'Item' }]);

  // Another variant of the pair: its own state row, and a run of it beside the base's running one.
  await sql`insert into sync_state (connection_id, sync_name, variant, frequency_ms) values (${conn!.id}, 's', 'v2', 60000)`;
  await sql`insert into runs (connection_id, script_name, variant, kind, script_version, status, trigger) values (${conn!.id}, 's', 'v2', 'sync', 1, 'running', 'schedule')`;
  // …but never two running runs of one variant.
  await expect(sql`insert into runs (connection_id, script_name, variant, kind, script_version, status, trigger) values (${conn!.id}, 's', 'v2', 'sync', 1, 'running', 'manual')`)
    .rejects.toMatchObject({ code: '23505' });
  await expect(sql`insert into sync_state (connection_id, sync_name, frequency_ms) values (${conn!.id}, 's', 60000)`).rejects.toMatchObject({ code: '23505' });
});
