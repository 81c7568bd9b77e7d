/**
 * Database faults that are nobody's fault in the request or the script: the connection was lost
 * (a terminated backend, a restart, a network blip) or Postgres asked to try again (deadlock,
 * serialization failure, too many connections). They are classified as internal
 * (DATABASE_ERROR), retried, and answered 503 with Retry-After over HTTP — never blamed on a
 * script or a caller.
 */

/** SQLSTATEs: 08 connection exceptions, 57P0x shutdown/terminated, 40001/40P01 retry, 53300 too many connections. */
const TRANSIENT_SQLSTATE = /^(08...|57P0[1-3]|40001|40P01|53300)$/;
/** postgres.js and Node socket error codes for a lost or refused connection. */
const TRANSIENT_CLIENT_CODES = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT',
]);

export function isTransientDatabaseError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return TRANSIENT_SQLSTATE.test(code) || TRANSIENT_CLIENT_CODES.has(code);
}

/**
 * Delays for settling what a run already did (its outcome, its queue job). A write of a run in
 * flight retries briefly (it can fail the run instead and be retried whole); a settle that gives
 * up leaves the run to the 60 s stale sweep, so it keeps trying for ~23 s — long enough to ride
 * out a backend restart or a burst of terminated connections.
 */
export const SETTLE_RETRY_MS: readonly number[] = [100, 500, 1500, 3000, 6000, 12000];

/**
 * Runs `fn` again after a transient database error (up to `delaysMs.length` more times). Only for
 * work that is safe to repeat: a transaction that rolled back, or one whose repeat is refused or
 * harmless if the first attempt did commit (fenced run writes: host/runs/run-fence.ts).
 */
export async function retryTransient<T>(fn: () => Promise<T>, delaysMs: readonly number[] = [100, 500, 1500]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientDatabaseError(err) || attempt >= delaysMs.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, delaysMs[attempt]));
    }
  }
}
