/**
 * Wake-ups for a worker host, so work starts when it appears rather than at the next poll: a
 * pair that became due (migration 0640's trigger: NOTIFY ferry_sync_due) makes the scheduler
 * tick at once, and a tick or a trigger that queued sync jobs (NOTIFY ferry_sync_queued, at its
 * commit) wakes the idle slots of every worker host. The polling stays as the fallback: a
 * notification lost with the listening connection costs only the wait for the next tick or poll,
 * and when that connection comes back (postgres.js listens again) both are woken once for
 * whatever was missed. Not on the embedded PGlite: LISTEN needs a connection of its own.
 */
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';

export const SYNC_DUE_CHANNEL = 'ferry_sync_due';
export const SYNC_QUEUED_CHANNEL = 'ferry_sync_queued';

export interface WorkNotices {
  close(): Promise<void>;
}

export async function listenForWork(sql: Sql, logger: Logger, on: { due(): void; queued(): void }): Promise<WorkNotices> {
  const log = logger.child({ module: 'work-notices' });
  let listening: Array<{ unlisten(): Promise<unknown> }>;
  try {
    listening = await Promise.all([
      sql.listen(SYNC_DUE_CHANNEL, () => on.due(), () => on.due()),
      sql.listen(SYNC_QUEUED_CHANNEL, () => on.queued(), () => on.queued()),
    ]);
  } catch (err) {
    log.warn({ err }, 'cannot listen for due pairs and queued jobs: the scheduler and the slots poll only');
    return { close: async () => {} };
  }
  return {
    async close() {
      await Promise.all(listening.map((l) => l.unlisten().catch(() => {})));
    },
  };
}
