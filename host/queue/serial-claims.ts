/**
 * pg-boss's groupConcurrency is checked inside each fetch statement, against the jobs already
 * active: two workers fetching at the same moment both see the group below its cap and both
 * claim, so an environment capped at 2 ran 3 at once (test/sync/fairness). Claims of the sync
 * queue therefore take one transaction-scoped advisory lock first; under READ COMMITTED the
 * claim that waited then sees the claims committed before it. A claim is one short statement,
 * so serialising them costs little next to a run — as long as its commit does not wait for the
 * WAL flush: with synchronous_commit on, every claim held the lock through an fsync (bench/scheduler:
 * 3 ms of lock wait per claim, the burst's claim rate capped near 300/s by the disk). The claim's
 * commit is therefore asynchronous. That is safe: it is visible to other claims at commit as
 * always, and a claim lost in a Postgres crash leaves the job claimable again, while anything the
 * run writes after it is committed synchronously, which flushes the claim's WAL record first.
 *
 * A claim whose COMMIT went through unseen (the connection dropped before its answer) left its
 * jobs active with no worker, their pairs blocked until the silent-job sweep failed and re-sent
 * them (FERRY_STALE_RUN_MS, a minute by default). The claim is recognisable afterwards: pg-boss
 * stamps each job it claims with its transaction's start (`started_on = job_now()`), which the
 * lock statement reads too. So when only the COMMIT was left and the connection failed, the
 * jobs still active with that stamp are this claim's, committed; they are taken (their heartbeat
 * refreshed, so the sweep leaves them) and worked as if the answer had arrived. None found: the
 * commit did not happen, and the jobs are still claimable by anyone. What pg-boss gets back is the
 * claim's own rows (its RETURNING, read before the COMMIT), kept to the jobs found: recovery reads
 * nothing of pg-boss's statement, so a pg-boss release that reshapes it cannot break recovery.
 * Only recognising the claim reads its text (CLAIM); test/db/serial-claims pins that.
 */
import type { Db } from 'pg-boss';
import type { Sql } from '../db/connect.ts';
import { isTransientDatabaseError, retryTransient, SETTLE_RETRY_MS } from '../db/transient.ts';
import { pgBossDb } from './pg-boss-db.ts';

const CLAIM = /SET\s+state = 'active',\s+started_on\s*=/;

type Result = Awaited<ReturnType<Db['executeSql']>>;

interface UnseenClaim {
  /** What the claim returned, before its COMMIT. */
  result: Result;
  jobIds: string[];
  /** The claim transaction's job_now() as Postgres prints it (microseconds kept: a JS Date would drop them). */
  startedOn: string;
}

export function serialClaimsDb(sql: Sql, queue: string): Db {
  const plain = pgBossDb(sql);
  const isClaim = (text: string) => text.includes(`name = '${queue}'`) && CLAIM.test(text);

  /** The rows of `claim` whose jobs it did take (refreshing their heartbeat), none if its commit did not happen. */
  async function recover(claim: UnseenClaim): Promise<Result> {
    // The stamp as text: the client would read a timestamptz parameter into a Date, dropping its microseconds.
    const taken = await sql<{ id: string }[]>`
      update pgboss.job set heartbeat_on = pgboss.job_now()
      where name = ${queue} and id = any(${claim.jobIds}::uuid[]) and state = 'active' and started_on = ${claim.startedOn}::text::timestamptz
      returning id::text`;
    const ids = new Set(taken.map((row) => row.id));
    return { ...claim.result, rows: claim.result.rows.filter((row) => ids.has(String((row as { id: unknown }).id))) };
  }

  return {
    ...plain,
    async executeSql(text, values) {
      if (!isClaim(text)) return plain.executeSql(text, values);
      let unseen: UnseenClaim | null = null;
      try {
        return await sql.begin(async (tx) => {
          // One statement: the commit's mode, the lock and the claim's stamp (a statement less per
          // claim). The claim is sent with it, not after its answer (a round trip less): Postgres
          // runs them in order, so the claim still runs holding the lock (`execute()` queues the
          // lock on the connection first). Both are awaited, so neither outlives the transaction.
          const lock = tx<{ started_on: string }[]>`
            select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtext(${`pgboss claim ${queue}`})),
              pgboss.job_now()::text as started_on`.execute();
          const claim = pgBossDb(tx).executeSql(text, values);
          const [locked, claimed] = await Promise.allSettled([lock, claim]);
          if (locked.status === 'rejected') throw locked.reason;
          if (claimed.status === 'rejected') throw claimed.reason;
          const result = claimed.value;
          const jobIds = result.rows.map((row) => String((row as { id: unknown }).id));
          // Only the COMMIT is left: from here a lost connection leaves its outcome unknown.
          if (jobIds.length > 0) unseen = { result, jobIds, startedOn: locked.value[0]!.started_on };
          return result;
        });
      } catch (err) {
        if (unseen === null || !isTransientDatabaseError(err)) throw err;
        const claim: UnseenClaim = unseen;
        return retryTransient(() => recover(claim), SETTLE_RETRY_MS);
      }
    },
  };
}
