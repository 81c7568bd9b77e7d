/**
 * A pg-boss queue of its own for one kind of background work (async actions, incoming
 * webhooks), separate from the sync queue so a burst of one never delays the other. Jobs can be
 * sent inside a caller's transaction, so a row and its job commit together.
 *
 * Worked by the sync queue's slots (host/queue/slots.ts), not pg-boss's work(): a job whose work
 * never started because the database was lost is queued again rather than failed and dropped;
 * settling a job retries through a lost connection; and each job heartbeats, so a job its
 * worker lost (killed, or a requeue that could not reach the database) is failed by pg-boss's
 * supervisor and retried within its retry limit.
 */
import type { Job, PgBoss } from 'pg-boss';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { pgBossDb } from '../queue/pg-boss-db.ts';
import { startSlots, type Slots } from '../queue/slots.ts';

/** How long a job that could not start (database lost) waits before it is claimable again. */
const REQUEUE_DELAY_S = 2;
const POLL_MS = 500;

export interface JobQueueOptions {
  /** pg-boss retries of a job that failed in the host or whose worker went silent. */
  retryLimit?: number;
  /** How long a job's worker may go silent before pg-boss fails it (at least 10 s). */
  heartbeatSeconds?: number;
}

export interface WorkOptions<T> {
  /** A handler error saying the work never started: the job is queued again (2 s later) instead of failed. */
  requeueWhen(err: unknown): boolean;
  /** The requeued job's data (by default the job's own). */
  requeueData?(job: Job<T>): T;
}

export interface JobQueue<T extends object> {
  send(data: T, tx?: TransactionSql): Promise<string | null>;
  work(concurrency: number, handler: (data: T, jobId: string) => Promise<unknown>, options?: WorkOptions<T>): void;
  /** Stops claiming; resolves when the running jobs have finished or `timeoutMs` passed. */
  stop(timeoutMs: number): Promise<void>;
}

export async function createJobQueue<T extends object>(boss: PgBoss, sql: Sql, name: string, logger: Logger, options: JobQueueOptions = {}): Promise<JobQueue<T>> {
  const log = logger.child({ module: 'job-queue', queue: name });
  const settings = { retryLimit: options.retryLimit ?? 0, expireInSeconds: 24 * 3600, heartbeatSeconds: Math.max(10, options.heartbeatSeconds ?? 60) };
  await boss.createQueue(name, settings).catch((err: unknown) => {
    if (!String((err as Error).message).includes('already exists')) throw err;
  });
  // A queue created before the heartbeat (or with other limits) takes the current ones.
  await boss.updateQueue(name, settings);
  const slots: Slots[] = [];

  /** Completes the claim and sends the job again, in one transaction: neither lost nor doubled. */
  async function requeue(job: Job<T>, data: T): Promise<void> {
    await sql.begin(async (tx) => {
      const [row] = await tx`select 1 from pgboss.job where name = ${name} and id = ${job.id} and state = 'active'`;
      if (!row) return; // settled meanwhile (its heartbeat lapsed and pg-boss failed it)
      const db = pgBossDb(tx);
      await boss.complete(name, [job], undefined, { db });
      await boss.send(name, data, { db, startAfter: REQUEUE_DELAY_S });
    });
  }

  return {
    send: (data, tx) => boss.send(name, data, tx ? { db: pgBossDb(tx) } : {}),
    work(concurrency, handler, work) {
      slots.push(startSlots<T>(concurrency, {
        boss, queue: name, claim: {}, pollMs: POLL_MS, heartbeatMs: (settings.heartbeatSeconds * 1000) / 2, logger: log,
        handler: (job) => handler(job.data, job.id),
        // pg-boss's work() failed a job whose handler threw; its retry limit still applies.
        failOnError: true,
        ...(work && { requeue: { when: work.requeueWhen, requeue: (job: Job<T>) => requeue(job, work.requeueData?.(job) ?? job.data) } }),
      }));
    },
    async stop(timeoutMs) {
      await Promise.all(slots.map((s) => s.stop(timeoutMs)));
    },
  };
}
