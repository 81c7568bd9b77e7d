/**
 * pg-boss over our postgres.js client, so that pg-boss shares the process's one client —
 * required on embedded PGlite, where there is only one connection — and can enqueue inside our
 * transactions. Bun's SQL client copied postgres.js's interface (`unsafe`, `reserve`, simple
 * protocol for parameterless multi-statement scripts, one result array per statement), so
 * pg-boss's own Bun adapter fits postgres.js unchanged.
 */
import { fromBunSql, type Db } from 'pg-boss';
import type { Sql, TransactionSql } from '../db/connect.ts';

export function pgBossDb(sql: Sql | TransactionSql): Db {
  return fromBunSql(sql as unknown as Parameters<typeof fromBunSql>[0]);
}
