/**
 * copyIn (host/db/copy-in.ts) against real Postgres: a COPY the server fails after CopyDone, and
 * a COPY cancelled while it runs, both settle with the server's error and leave the connection
 * usable. The first test pins the postgres.js behaviour the wrapper exists for: the same failing
 * COPY through postgres.js's writable alone never settles.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { copyIn } from '../../host/db/copy-in.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql.unsafe(`
    create table copy_target (id text primary key, data jsonb not null);
    -- Fires once per statement, after the last row: always after the client's CopyDone.
    create function copy_target_refuse() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from copy_target where id = 'refused') then raise exception 'refused after CopyDone'; end if;
      if exists (select 1 from copy_target where id = 'slow') then perform pg_sleep(30); end if;
      return null;
    end $$;
    create trigger copy_target_after after insert on copy_target for each statement execute function copy_target_refuse();
    create table copy_slow (id text primary key, data jsonb not null);
    create function copy_slow_row() returns trigger language plpgsql as $$ begin perform pg_sleep(0.001); return new; end $$;
    create trigger copy_slow_row before insert on copy_slow for each row execute function copy_slow_row();
  `);
});
afterAll(async () => { await db?.drop(); });

const COPY = 'copy copy_target (id, data) from stdin';
const codeOf = (outcome: unknown) => (outcome as { code?: string } | null)?.code;
const settledWithin = <T>(promise: Promise<T>, ms: number) => Promise.race([
  promise.then(() => 'resolved' as const, (error: unknown) => error),
  new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms)),
]);

test("postgres.js alone never settles a COPY the server fails after CopyDone; copyIn rejects with the server's error", async () => {
  const url = new URL(db.url);
  const raw = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const hung = raw.begin(async (tx) => {
      const writable = await tx.unsafe(COPY).writable();
      await pipeline(Readable.from(['refused\t{}\n']), writable);
    });
    expect(await settledWithin(hung, 1500)).toBe('pending');
  } finally {
    await raw.end({ timeout: 0 }).catch(() => {});
  }

  const error = await settledWithin(db.sql.begin((tx) => copyIn(tx, COPY, 'refused\t{}\n')), 5000);
  expect((error as Error | null)?.message).toBe('refused after CopyDone');
  // The transaction rolled back and its connection serves the next statement.
  expect(await db.sql`select count(*)::int as n from copy_target`).toEqual([{ n: 0 }]);
});

test('a bad row (invalid jsonb, a unique violation) rejects, the transaction rolls back', async () => {
  const bad = await db.sql.begin((tx) => copyIn(tx, COPY, 'a\t{}\nb\tnot json\n')).then(() => null, (e: unknown) => e);
  expect(codeOf(bad)).toBe('22P02');
  const duplicate = await db.sql.begin((tx) => copyIn(tx, COPY, 'a\t{}\na\t{}\n')).then(() => null, (e: unknown) => e);
  expect(codeOf(duplicate)).toBe('23505');
  expect(await db.sql`select count(*)::int as n from copy_target`).toEqual([{ n: 0 }]);

  // COPY text format unescapes once: the JSON escape \t travels as \\t.
  await db.sql.begin((tx) => copyIn(tx, COPY, 'a\t{"x":"tab\\\\there"}\n'));
  expect(await db.sql`select id, data from copy_target`).toEqual([{ id: 'a', data: { x: 'tab\there' } }]);
  await db.sql`delete from copy_target`;
});

test('a COPY cancelled while the server finishes it (after CopyDone) settles with the cancel', async () => {
  let pid = 0;
  const copy = db.sql.begin(async (tx) => {
    pid = (await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
    await copyIn(tx, COPY, 'slow\t{}\n');
  });
  // Wait until the statement trigger sleeps, i.e. every row and CopyDone reached the server.
  for (let i = 0; i < 200; i++) {
    const [row] = await db.sql<{ waiting: boolean }[]>`select exists (select 1 from pg_stat_activity where pid = ${pid} and wait_event = 'PgSleep') as waiting`;
    if (row!.waiting) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const outcome = settledWithin(copy, 10_000); // handled before the cancel can reject it
  await db.sql`select pg_cancel_backend(${pid})`;
  expect(codeOf(await outcome)).toBe('57014');
  expect(await db.sql`select count(*)::int as n from copy_target`).toEqual([{ n: 0 }]);
});

test('a COPY cancelled while rows are still arriving settles with the cancel', async () => {
  // ~6 MB at ~1 ms per row: more than the socket buffers hold, so the cancel lands mid-stream.
  const text = Array.from({ length: 30_000 }, (_, n) => `r${n}\t{"pad":"${'x'.repeat(180)}"}\n`).join('');
  let pid = 0;
  const copy = db.sql.begin(async (tx) => {
    pid = (await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
    await copyIn(tx, 'copy copy_slow (id, data) from stdin', text);
  });
  for (let i = 0; i < 200; i++) {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where pid = ${pid} and query like 'copy copy_slow%' and state = 'active'`;
    if (row!.n > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 200));
  const outcome = settledWithin(copy, 10_000); // handled before the cancel can reject it
  await db.sql`select pg_cancel_backend(${pid})`;
  expect(codeOf(await outcome)).toBe('57014');
  expect(await db.sql`select count(*)::int as n from copy_slow`).toEqual([{ n: 0 }]);
});
