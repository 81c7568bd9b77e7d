/**
 * A sync job whose run never started because the database was lost (a transient error, after the
 * start path's own retries) before its run row was written. Nothing of the run exists — no run
 * row, no pass begun — so completing its job would drop it (a 202'd manual trigger that never
 * runs); the queue puts the job back instead (host/queue/queue.ts). It keeps the cause's SQLSTATE
 * or client code, so it still classifies as transient.
 */
export class RunNotStartedError extends Error {
  readonly code: unknown;
  constructor(cause: unknown) {
    super(`the run could not start: the database was lost (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = 'RunNotStartedError';
    this.code = (cause as { code?: unknown } | null)?.code;
  }
}
