/**
 * pg-boss's claims (its fetch statement), for every queue on this client, made recoverable, and
 * the sync queue's made serial.
 *
 * Serial: pg-boss's groupConcurrency is checked inside each fetch statement, against the jobs
 * already active: two workers fetching at the same moment both see the group below its cap and
 * both claim, so an environment capped at 2 ran 3 at once (test/sync/fairness). Claims of the
 * sync queue therefore take one transaction-scoped advisory lock first; under READ COMMITTED the
 * claim that waited then sees the claims committed before it. A claim is one short statement,
 * so serialising them costs little next to a run — as long as its commit does not wait for the
 * WAL flush: with synchronous_commit on, every claim held the lock through an fsync (bench/scheduler:
 * 3 ms of lock wait per claim, the burst's claim rate capped near 300/s by the disk). A claim's
 * commit is therefore asynchronous. That is safe: it is visible to other claims at commit as
 * always, and a claim lost in a Postgres crash leaves the job claimable again, while anything the
 * job's work writes after it is committed synchronously, which flushes the claim's WAL record first.
 *
 * Recoverable: a claim whose COMMIT went through unseen (the connection dropped before its
 * answer) left its jobs active with no worker — a sync pair blocked until the silent-job sweep
 * failed and re-sent it (FERRY_STALE_RUN_MS, a minute by default), an action or an incoming
 * webhook until pg-boss's heartbeat sweep failed it and spent one of its retries. Every claim is
 * therefore one transaction that reads its stamp first: pg-boss stamps each job it claims with
 * its transaction's start (`started_on = job_now()`), which the first statement reads too. (A
 * claim sent on its own commits with its answer, so a lost answer would leave even its jobs'
 * ids unknown.) When only the COMMIT was left and the connection failed, the jobs still active
 * with that stamp are this claim's, committed; they are taken (their heartbeat refreshed, so no
 * sweep takes them) and worked as if the answer had arrived. None found: the commit did not
 * happen, and the jobs are still claimable by anyone. What pg-boss gets back is the claim's own
 * rows (its RETURNING, read before the COMMIT), kept to the jobs found: recovery reads nothing of
 * pg-boss's statement, so a pg-boss release that reshapes it cannot break recovery. Only
 * recognising the claim and its queue reads its text (CLAIM, CLAIM_QUEUE); test/db/serial-claims
 * pins that.
 */
import type { Db } from 'pg-boss';
import type { Sql } from '../db/connect.ts';
import { isTransientDatabaseError, retryTransient, SETTLE_RETRY_MS } from '../db/transient.ts';
import { pgBossDb } from './pg-boss-db.ts';

const CLAIM = /SET\s+state = 'active',\s+started_on\s*=/;
/** The claimed queue: the first name the claim compares with (`j.name = '…'`). */
const CLAIM_QUEUE = /\bname = '([^']+)'/;

type Result = Awaited<ReturnType<Db['executeSql']>>;

/**
 * A claim of `queue` by name: the sync queue's claim lock is keyed by it, and every claim's first
 * statement sends it (a parameter, so on every execution, prepared or not): a claim is found on the
 * wire by its name, not by the text of pg-boss's statement (claim-commit-unseen in test/sync and test/actions).
 */
export const claimName = (queue: string): string => `pgboss claim ${queue}`;

interface UnseenClaim {
  /** What the claim returned, before its COMMIT. */
  result: Result;
  queue: string;
  jobIds: string[];
  /** The claim transaction's job_now() as Postgres prints it (microseconds kept: a JS Date would drop them). */
  startedOn: string;
}

/** pg-boss's client over `sql`, its claims recoverable and those of `serialQueue` serialised. */
export function serialClaimsDb(sql: Sql, serialQueue: string): Db {
  const plain = pgBossDb(sql);

  /** The rows of `claim` whose jobs it did take (refreshing their heartbeat), none if its commit did not happen. */
  async function recover(claim: UnseenClaim): Promise<Result> {
    // The stamp as text: the client would read a timestamptz parameter into a Date, dropping its microseconds.
    const taken = await sql<{ id: string }[]>`
      update pgboss.job set heartbeat_on = pgboss.job_now()
      where name = ${claim.queue} and id = any(${claim.jobIds}::uuid[]) and state = 'active' and started_on = ${claim.startedOn}::text::timestamptz
      returning id::text`;
    const ids = new Set(taken.map((row) => row.id));
    return { ...claim.result, rows: claim.result.rows.filter((row) => ids.has(String((row as { id: unknown }).id))) };
  }

  return {
    ...plain,
    async executeSql(text, values) {
      const queue = CLAIM.test(text) ? CLAIM_QUEUE.exec(text)?.[1] : undefined;
      if (queue === undefined) return plain.executeSql(text, values);
      let unseen: UnseenClaim | null = null;
      try {
        return await sql.begin(async (tx) => {
          // One statement: the commit's mode, the lock (serial queue only) and the claim's stamp (a
          // statement less per claim). The claim is sent with it, not after its answer (a round
          // trip less): Postgres runs them in order, so the claim still runs holding the lock
          // (`execute()` queues the first statement on the connection first). Both are awaited, so
          // neither outlives the transaction.
          const first = queue === serialQueue
            ? tx<{ started_on: string }[]>`
              select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtext(${claimName(queue)})),
                pgboss.job_now()::text as started_on`.execute()
            : tx<{ started_on: string }[]>`select set_config('synchronous_commit', 'off', true), ${claimName(queue)}::text as claim, pgboss.job_now()::text as started_on`.execute();
          const claim = pgBossDb(tx).executeSql(text, values);
          const [stamped, claimed] = await Promise.allSettled([first, claim]);
          if (stamped.status === 'rejected') throw stamped.reason;
          if (claimed.status === 'rejected') throw claimed.reason;
          const result = claimed.value;
          const jobIds = result.rows.map((row) => String((row as { id: unknown }).id));
          // Only the COMMIT is left: from here a lost connection leaves its outcome unknown.
          if (jobIds.length > 0) unseen = { result, queue, jobIds, startedOn: stamped.value[0]!.started_on };
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
