/**
 * Names some statements carry on purpose, as a comment at their start: `/* ferry:run-start *\/`.
 * Postgres keeps a statement's comments in pg_stat_activity.query, and the driver sends them in
 * its text, so the statement is found by its name (an operator looking at what waits on a lock,
 * a chaos test terminating the backend that runs it) however its SQL is rewritten: a pattern
 * over the text broke when a CTE's name became quoted.
 */
import type { Sql, TransactionSql } from './connect.ts';

export const STATEMENT_NAMES = {
  /** A run's row inserted as running (host/runs/runs.ts start), with what goes along with it. */
  runStart: 'run-start',
  /** An action call claimed for its run (host/actions/action-jobs.ts claim). */
  actionClaim: 'action-claim',
  /** A sync run's first read after its start: each model's newest cursor (host/sync/run-sync.ts). */
  runCursorsBefore: 'run-cursors-before',
  /** The stale-run sweep settling the async calls of the action runs it failed (host/actions/action-queue.ts settleLost). */
  lostActionsSettle: 'lost-actions-settle',
} as const;

export type StatementName = (typeof STATEMENT_NAMES)[keyof typeof STATEMENT_NAMES];

/** The comment that names a statement, as it appears in the statement's text. */
export const statementMark = (name: StatementName): string => `/* ferry:${name} */`;

/** The mark as a fragment to begin a tagged statement with: sql`${named(sql, 'run-start')} insert …`. */
export const named = (sql: Sql | TransactionSql, name: StatementName) => sql.unsafe(statementMark(name));
