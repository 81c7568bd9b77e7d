/**
 * A pg-boss queue of its own for one kind of background work (async actions, incoming
 * webhooks), separate from the sync queue so a burst of one never delays the other. Jobs can be
 * sent inside a caller's transaction, so a row and its job commit together.
 */
import type { Job, PgBoss } from 'pg-boss';
import type { TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { pgBossDb } from '../queue/pg-boss-db.ts';

export interface JobQueue<T extends object> {
  send(data: T, tx?: TransactionSql): Promise<string | null>;
  work(concurrency: number, handler: (data: T) => Promise<unknown>): Promise<string>;
}

export async function createJobQueue<T extends object>(boss: PgBoss, name: string, logger: Logger, options: { retryLimit?: number } = {}): Promise<JobQueue<T>> {
  const log = logger.child({ module: 'job-queue', queue: name });
  await boss.createQueue(name, { retryLimit: options.retryLimit ?? 0, expireInSeconds: 24 * 3600 }).catch((err: unknown) => {
    if (!String((err as Error).message).includes('already exists')) throw err;
  });
  return {
    send: (data, tx) => boss.send(name, data, tx ? { db: pgBossDb(tx) } : {}),
    work: (concurrency, handler) => boss.work<T>(name, { localConcurrency: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs: Job<T>[]) => {
      for (const job of jobs) {
        try {
          await handler(job.data);
        } catch (err) {
          log.error({ err, jobId: job.id }, 'background job failed');
          throw err;
        }
      }
    }),
  };
}
