/**
 * Real Postgres backends terminated (pg_terminate_backend, on this file's own databases only)
 * in the middle of transactions. postgres.js 3.4.9 unpatched crashes the process from a
 * setImmediate, leaves statements pending forever, runs a dead transaction's late statements
 * outside it and poisons the pooled connection (tools/patch-postgres.mjs, applied at install).
 * Here: every statement settles, as a transient error (DATABASE_ERROR / 503 upstream); nothing
 * the transaction wrote survives; the pool's next query is answered at once.
 */
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { isTransientDatabaseError } from '../../host/db/transient.ts';
import { createLogger } from '../../host/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';

/** A promise's outcome, or 'pending' when it has not settled within `ms`. */
async function outcome(p: Promise<unknown>, ms = 3_000): Promise<'ok' | 'pending' | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)));
  try {
    return await Promise.race([p.then(() => 'ok' as const, (error: unknown) => ({ error })), pending]);
  } finally {
    clearTimeout(timer);
  }
}
const transient = (o: Awaited<ReturnType<typeof outcome>>) => typeof o === 'object' && isTransientDatabaseError(o.error);

/** Terminates this database's backends whose application_name is `ferry` (never its own). */
function killer(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'chaos-killer' } });
  return {
    kill: async () => (await sql<{ n: number }[]>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'ferry' and pid <> pg_backend_pid()`)[0]!.n,
    killPid: (pid: number) => sql`select pg_terminate_backend(${pid})`,
    end: () => sql.end({ timeout: 5 }),
  };
}

const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
beforeEach(() => { uncaught.length = 0; process.on('uncaughtException', onUncaught); });
afterEach(() => { process.off('uncaughtException', onUncaught); expect(uncaught).toEqual([]); });

describe('a transaction whose backend is terminated', () => {
  let testDb: TestDatabase;
  let db: Database;
  let kill: ReturnType<typeof killer>;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    await testDb.sql`create table chaos_t (id int primary key)`;
    // One connection: the pool's next query must reuse the very connection that lost its backend.
    db = await connectDatabase({ databaseUrl: testDb.url, maxConnections: 1, logger: createLogger({ level: 'silent' }) });
    kill = killer(testDb.url);
  });
  afterAll(async () => {
    await db?.close();
    await kill?.end();
    await testDb?.drop();
  });
  const pidOf = async (tx: postgres.TransactionSql) => (await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;

  test('mid-statement: begin and the statements queued behind it reject as transient, nothing is written, the next query is answered', async () => {
    let pid: number | undefined;
    let queued: Promise<unknown> | undefined;
    const tx = db.sql.begin(async (t) => {
      await t`insert into chaos_t values (1)`;
      pid = await pidOf(t);
      const sleeping = t`select pg_sleep(5)`;
      queued = t`insert into chaos_t values (2)`;
      await sleeping;
      await queued;
    });
    await waitFor('the transaction to start sleeping', async () => (pid ? true : undefined), 5_000);
    await new Promise((r) => setTimeout(r, 100));
    await kill.killPid(pid!);
    expect(transient(await outcome(tx))).toBe(true);
    expect(transient(await outcome(queued!))).toBe(true);
    // Unpatched, this reconnect never flushes its startup message (a stale write timer).
    expect(await outcome(db.sql`select 1`, 2_000)).toBe('ok');
    expect(await testDb.sql`select id from chaos_t`).toEqual([]);
  }, 30_000);

  test('a statement the callback issues after the close is refused: it never runs on the reconnected socket', async () => {
    let pid: number | undefined;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let late: Promise<unknown> | undefined;
    const tx = db.sql.begin(async (t) => {
      pid = await pidOf(t);
      await gate; // the callback awaits something that is not the database
      late = t`insert into chaos_t values (3)`;
      await late;
    });
    await waitFor('the transaction to open', async () => (pid ? true : undefined), 5_000);
    await kill.killPid(pid!);
    expect(transient(await outcome(tx))).toBe(true);
    expect(await outcome(db.sql`select 1`, 2_000)).toBe('ok'); // the connection is back in use
    release();
    await waitFor('the callback to issue its late statement', async () => (late ? true : undefined), 5_000);
    expect(transient(await outcome(late!))).toBe(true);
    expect(await outcome(db.sql`select 1`, 2_000)).toBe('ok');
    expect(await testDb.sql`select id from chaos_t`).toEqual([]);
  }, 30_000);

  test('the first query after the backend died does not inherit its FATAL error', async () => {
    for (let i = 0; i < 5; i++) {
      const [row] = await db.sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await kill.killPid(row!.pid);
      await new Promise((r) => setTimeout(r, 50));
      expect(await outcome(db.sql`select 1`, 2_000)).toBe('ok');
    }
  }, 30_000);
});
