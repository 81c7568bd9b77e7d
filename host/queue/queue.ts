/**
 * The run queue (pg-boss) and the scheduler that feeds it. Any number of worker processes on
 * any number of machines can tick and work against one Postgres: claiming due pairs uses
 * SKIP LOCKED, and the queue's "stately" policy with one singleton key per (connection, sync)
 * keeps at most one run queued and one active for a pair.
 */
import { PgBoss, type Job } from 'pg-boss';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import type { SyncJob } from '../sync/run-sync.ts';
import type { SyncState } from '../sync/sync-state.ts';
import { pgBossDb } from './pg-boss-db.ts';

export const SYNC_QUEUE = 'ferry-sync';

export function singletonKey(job: Pick<SyncJob, 'connectionId' | 'syncName'>): string {
  return `${job.connectionId}:${job.syncName}`;
}

export interface QueueOptions {
  sql: Sql;
  logger: Logger;
  /** Run pg-boss maintenance (supervision, retention) in this process. */
  supervise: boolean;
}

export async function createQueue(options: QueueOptions) {
  const log = options.logger.child({ module: 'queue' });
  const boss = new PgBoss({ db: pgBossDb(options.sql), schema: 'pgboss', supervise: options.supervise, schedule: false, migrate: true });
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();
  await boss.createQueue(SYNC_QUEUE, {
    policy: 'stately',
    retryLimit: 0,
    // Runs are bounded by the runtime's wall-time limit; pg-boss must not expire them first.
    expireInSeconds: 24 * 3600,
  }).catch((err: unknown) => {
    if (!String((err as Error).message).includes('already exists')) throw err;
  });

  return {
    boss,

    async enqueue(job: SyncJob): Promise<string | null> {
      return boss.send(SYNC_QUEUE, job as unknown as object, { singletonKey: singletonKey(job) });
    },

    /** Moves due pairs into the queue, atomically with advancing their next_run_at. */
    async tick(syncState: SyncState, limit = 500): Promise<number> {
      return options.sql.begin(async (tx) => {
        const due = await syncState.claimDue(tx, limit);
        if (due.length === 0) return 0;
        await boss.insert(SYNC_QUEUE, due.map((d) => {
          const data: SyncJob = { connectionId: d.connection_id, syncName: d.sync_name, trigger: 'schedule' };
          return { data: data as unknown as object, singletonKey: singletonKey(data) };
        }), { db: pgBossDb(tx) });
        return due.length;
      });
    },

    async work(concurrency: number, handler: (job: SyncJob) => Promise<unknown>): Promise<string> {
      return boss.work<SyncJob>(SYNC_QUEUE, { localConcurrency: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs: Job<SyncJob>[]) => {
        for (const job of jobs) await handler(job.data);
      });
    },

    async close(): Promise<void> {
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
export type Queue = Awaited<ReturnType<typeof createQueue>>;
