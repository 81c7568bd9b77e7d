/**
 * Deletes rate-limit buckets that say nothing any more (host/proxy/rate-limiter.ts): refilled to
 * their burst with no block in force, for longer than `graceMs`. A missing row is taken as a
 * full bucket, so deleting one changes no caller's wait; without this the table grows by one row
 * per connection and per sign-in address for ever. Every process may run it: deletes of the same
 * rows by two processes are harmless.
 */
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';

const BATCH = 5000;
/** Rows from before idle_at was written: kept this long after their last take (no rate is stored to tell when they were full). */
const LEGACY_IDLE_MS = 24 * 3600_000;

export async function pruneRateLimitBuckets(sql: Sql, graceMs: number): Promise<number> {
  let pruned = 0;
  for (;;) {
    // In batches, skipping rows a caller holds, so a large backlog never locks the table for long.
    const rows = await sql`
      delete from rate_limit_buckets where key in (
        select key from rate_limit_buckets
        where (idle_at < now() - ${graceMs} * interval '1 millisecond'
            or (idle_at is null and refilled_at < now() - ${LEGACY_IDLE_MS} * interval '1 millisecond'))
          and (blocked_until is null or blocked_until < now())
        limit ${BATCH} for update skip locked)`;
    pruned += rows.count;
    if (rows.count < BATCH) return pruned;
  }
}

export function startRateLimitPruning(options: { sql: Sql; logger: Logger; everyMs: number; graceMs: number }): { stop(): Promise<void> } {
  const log = options.logger.child({ module: 'rate-limit-prune' });
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = pruneRateLimitBuckets(options.sql, options.graceMs)
      .then((pruned) => { if (pruned > 0) log.debug({ pruned }, 'pruned idle rate-limit buckets'); })
      .catch((err: unknown) => log.warn({ err }, 'pruning rate-limit buckets failed; next attempt at the next interval'))
      .finally(() => { running = null; });
  }, options.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
