/**
 * pg-boss's groupConcurrency is checked inside each fetch statement, against the jobs already
 * active: two workers fetching at the same moment both see the group below its cap and both
 * claim, so an environment capped at 2 ran 3 at once (test/sync/fairness). Claims of the sync
 * queue therefore take one transaction-scoped advisory lock first; under READ COMMITTED the
 * claim that waited then sees the claims committed before it. A claim is one short statement,
 * so serialising them costs little next to a run.
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
        await tx`select pg_advisory_xact_lock(hashtext(${`pgboss claim ${queue}`}))`;
        return pgBossDb(tx).executeSql(text, values);
      });
    },
  };
}
