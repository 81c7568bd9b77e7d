/**
 * Losing the database at one chosen statement of the host: the test holds a lock (or an
 * uncommitted row) the statement must wait for, and terminates the host's backend
 * (pg_terminate_backend, on the test file's own database only) each time it is seen waiting
 * there, until the host has given up on what it was doing.
 */
import postgres from '@ferry/postgres';
import { statementMark, type StatementName } from '../../host/db/statement-names.ts';
import { afterEach, beforeEach, expect } from 'vitest';
import { waitFor, type TestFerry } from './ferry.ts';

export type Control = ReturnType<typeof postgres>;
type Reserved = Awaited<ReturnType<Control['reserve']>>;

/** A second client of the host's database, named so that the terminations never pick it. */
export function controlConnection(ferry: TestFerry, applicationName: string): Control {
  return postgres(ferry.db.url, { max: 2, onnotice: () => {}, connection: { application_name: applicationName } });
}

export type BackendKiller = ReturnType<typeof backendKiller>;

/** Terminates the host's backends (application_name `ferry`) of the database at `url`, never its own. */
export function backendKiller(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'chaos-killer' } });
  return {
    /** Terminates every host backend of the database; returns how many. */
    kill: async () => (await sql<{ n: number }[]>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'ferry' and pid <> pg_backend_pid()`)[0]!.n,
    killPid: (pid: number) => sql`select pg_terminate_backend(${pid})`,
    end: () => sql.end({ timeout: 5 }),
  };
}

/**
 * Fails each test of the file after which an exception (and, with `rejections`, a promise
 * rejection) reached the process unhandled: either crashes a host on Node 24.
 */
export function failOnUncaught(options: { rejections: boolean }): void {
  const events = options.rejections ? (['uncaughtException', 'unhandledRejection'] as const) : (['uncaughtException'] as const);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  beforeEach(() => {
    uncaught.length = 0;
    for (const event of events) process.on(event, onUncaught);
  });
  afterEach(() => {
    for (const event of events) process.off(event, onUncaught);
    expect(uncaught).toEqual([]);
  });
}

/**
 * Runs `body` while a transaction of its own, begun by `hold` (a lock, a row), stays open; rolls
 * it back however `body` ends. A failed attempt must not leave its lock behind: the pooled
 * connection would keep the transaction open and CI's retry of the test would wait on it.
 */
export async function whileHolding<T>(control: Control, hold: (tx: Reserved) => Promise<unknown>, body: () => Promise<T>): Promise<T> {
  const tx = await control.reserve();
  try {
    await tx`begin`;
    await hold(tx);
    return await body();
  } finally {
    await tx`rollback`.catch(() => {}); // already rolled back if the hold itself failed
    tx.release();
  }
}

/**
 * Terminates the host's backends waiting on a lock in one of the statements `statements` names
 * (host/db/statement-names.ts: the host marks them on purpose, so no pattern over their SQL is
 * needed) until `settled` returns a value; returns that value and how many backends were terminated.
 */
export async function terminateLockWaitersUntil<T>(
  control: Control, statements: StatementName[], what: string, settled: () => Promise<T | undefined>, timeoutMs = 30_000,
): Promise<{ value: T; kills: number }> {
  const marks = statements.map(statementMark);
  let kills = 0;
  const value = await waitFor(what, async () => {
    const [row] = await control<{ n: number }[]>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'ferry' and wait_event_type = 'Lock'
        and exists (select from unnest(${marks}::text[]) as m(mark) where strpos(query, m.mark) > 0)`;
    kills += row!.n;
    return settled();
  }, timeoutMs);
  return { value, kills };
}

/** The pg-boss job's state once it is none of `unsettled` (by default: waiting or being worked). */
export async function settledJobState(control: Control, jobId: string, unsettled = ['created', 'active']): Promise<string | undefined> {
  const [job] = await control<{ state: string }[]>`select state::text as state from pgboss.job where id = ${jobId}`;
  return job && !unsettled.includes(job.state) ? job.state : undefined;
}

/** Jobs of `queue` still to run or running: none once everything has run exactly once. */
export function pendingJobs(control: Control, queue: string) {
  return control`select 1 from pgboss.job where name = ${queue} and state in ('created', 'retry', 'active')`;
}

/** The database's newest run id ('0' with none): what a test counts its own runs after. */
export async function newestRunId(control: Control): Promise<string> {
  const [row] = await control<{ max: string | null }[]>`select max(id)::text as max from runs`;
  return row!.max ?? '0';
}

/**
 * A requeued job starts again after a delay (host/queue/queue.ts REQUEUE_DELAY_S, 2 s). "Exactly
 * once" can only be seen by waiting past it and finding no second run: this is that wait, not a
 * wait for something to happen.
 */
export function pastTheRequeueDelay(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 3_000));
}
