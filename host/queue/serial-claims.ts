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
 */
import type { Db } from 'pg-boss';
import type { Sql } from '../db/connect.ts';
import { pgBossDb } from './pg-boss-db.ts';

const CLAIM = /SET\s+state = 'active',\s+started_on\s*=/;

export function serialClaimsDb(sql: Sql, queue: string): Db {
  const plain = pgBossDb(sql);
  const isClaim = (text: string) => text.includes(`name = '${queue}'`) && CLAIM.test(text);
  return {
    ...plain,
    async executeSql(text, values) {
      if (!isClaim(text)) return plain.executeSql(text, values);
      return sql.begin(async (tx) => {
        // One statement: the commit's mode and the lock (a statement less per claim). The claim is
        // sent with it, not after its answer (a round trip less): Postgres runs them in order, so
        // the claim still runs holding the lock. Both are awaited, so neither outlives the transaction.
        // (`execute()` sends the lock now, so it is queued on the connection before the claim.)
        const lock = tx`select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtext(${`pgboss claim ${queue}`}))`.execute();
        const claim = pgBossDb(tx).executeSql(text, values);
        const [locked, claimed] = await Promise.allSettled([lock, claim]);
        if (locked.status === 'rejected') throw locked.reason;
        if (claimed.status === 'rejected') throw claimed.reason;
        return claimed.value;
      });
    },
  };
}
