/**
 * The fence: a run's right to write. A process that lost its run (frozen past the stale-run
 * limit and failed as WORKER_LOST, while a newer run of the pair took over) must write nothing
 * when it wakes. So every write of a run happens in a transaction that first claims the run's
 * row: `update runs … where id = $run and status = 'running'`. The claim
 * - fails (0 rows) once the run was settled by anyone else, and the transaction then writes
 *   nothing (RunFencedError, code RUN_FENCED);
 * - holds the run row's lock until commit, so `failStale` cannot settle the run between the
 *   check and the commit: it skips the locked row, and the next sweep sees the fresh heartbeat
 *   the claim wrote;
 * - is taken first in every transaction of a run, before any record lock, so a run's
 *   transactions queue on one row and never deadlock with each other.
 * The run id is the token: whatever later runs in parallel (several passes of a pair) fences on
 * its own run row the same way.
 */
import type { Sql, TransactionSql } from '../db/connect.ts';

export class RunFencedError extends Error {
  readonly code = 'RUN_FENCED';
  constructor(runId: string) {
    super(`run ${runId} is no longer live (settled by another process): its writes are refused`);
    this.name = 'RunFencedError';
  }
}

export const isRunFenced = (err: unknown): err is RunFencedError => (err as { code?: unknown } | null)?.code === 'RUN_FENCED';

/** Claims the run for the rest of `tx`; throws RunFencedError when it is not live any more. */
export async function claimRun(tx: TransactionSql, runId: string): Promise<void> {
  const rows = await tx`update runs set heartbeat_at = now() where id = ${runId} and status = 'running'`;
  if (rows.count === 0) throw new RunFencedError(runId);
}

/**
 * `fn` in a transaction that commits only while the run is live. The claim is not awaited before
 * `fn` starts: postgres.js pipelines it with fn's first statements (a round trip less per batch,
 * which bench/ingest counts), and Postgres still runs it first, so the lock order holds. When the
 * claim finds the run settled, fn's statements ran in a transaction that is then rolled back:
 * nothing is written. fn is always awaited to its end before the transaction ends, since a
 * statement issued on `tx` after that would run outside it.
 */
export function fencedWrite<T>(sql: Sql, runId: string, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    const claim = claimRun(tx, runId);
    claim.catch(() => {});
    const outcome = await fn(tx).then((value) => ({ value }), (error: unknown) => ({ error }));
    await claim; // a lost run fails as RUN_FENCED, whatever fn met in its rolled-back transaction
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }) as Promise<T>;
}
