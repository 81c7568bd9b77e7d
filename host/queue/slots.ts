/**
 * Worker slots over pg-boss: each slot claims ONE job, runs it, and claims again at once; it waits
 * the polling interval only when nothing was claimable. pg-boss's own work() either fetches one
 * job and then waits the polling interval even with a backlog (one job per 0.5 s per slot), or
 * fetches batches, and a slot holding a batch strands what it has not started when its process is
 * killed, and makes the batch's later jobs wait for the first one while other slots idle (a tenant's
 * one-record sync sat behind another tenant's 25 s run). A claimed job is started at once, so a
 * kill strands nothing: the job it was running has a run row and the stale-run sweep settles it.
 * With `turns` (turns.ts), there are more slots than runtime children: a slot claims only once it
 * holds a turn, and its handler gives the turn back when the run no longer needs its child, so
 * another slot starts a run while this one settles.
 */
import type { Db, Job, PgBoss } from 'pg-boss';
import { retryTransient, SETTLE_RETRY_MS } from '../db/transient.ts';
import type { Logger } from '../logger.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Turns } from './turns.ts';

type FetchOptions = NonNullable<Parameters<PgBoss['fetch']>[1]> & { groupConcurrency?: unknown };

export interface SlotOptions<T> {
  boss: PgBoss;
  queue: string;
  /** Claim options (priority order, group concurrency); the batch is always one job. */
  claim: Omit<FetchOptions, 'batchSize'>;
  pollMs: number;
  /** How often a running job's pg-boss heartbeat is refreshed (half its heartbeat). */
  heartbeatMs: number;
  /**
   * Runs the job. `executed` gives the slot's turn back (see `turns`): call it once the run no
   * longer needs its runtime child; the slot gives it back anyway when the handler ends.
   * `settle` lets the handler complete the job in a transaction of its own (JobSettle).
   */
  handler(job: Job<T>, executed: () => void, settle: JobSettle): Promise<unknown>;
  /** Taken before each claim, given back by the handler's `executed` (or when it ends). */
  turns?: Turns;
  logger: Logger;
  /** Claims only while this holds (a reserved slot: while every regular slot is busy). */
  claimWhile?: () => boolean;
  /**
   * For a handler error saying the job never started (its run was not written): puts the job back
   * in the queue, to run later, instead of completing it. Must settle the claimed job itself.
   */
  requeue?: { when(err: unknown): boolean; requeue(job: Job<T>): Promise<unknown> };
  /**
   * Any other handler error fails the job, so the queue's retry limit gives it another go (the
   * handler must be safe to run again); by default it is completed.
   */
  failOnError?: boolean;
}

/**
 * Completing the job inside the handler's own last transaction (a run's settle): one commit, one
 * WAL flush and one round trip fewer per job than completing it after, and the job is completed
 * exactly when its run's outcome is. `complete(db)` issues the completion on that transaction;
 * `committed()`, called once it has committed, tells the slot not to complete the job again.
 * A handler that never calls `committed()` has its job completed by the slot, as before.
 */
export interface JobSettle {
  complete(db: Db): Promise<unknown>;
  /**
   * The same completion as a statement to put beside the handler's own settling write (a CTE of
   * its statement), completing the job only `when` that write did: the settle is then one
   * statement in its own transaction. pg-boss's completion of a fetched job, as it writes it
   * (plans.completeJobs, fenced to the attempt fetched), for which it has no composable form;
   * test/db/job-completion pins that both leave the job the same.
   */
  completion(sql: Sql | TransactionSql, when: Fragment): Fragment;
  committed(): void;
}

type Fragment = ReturnType<Sql['unsafe']>;

export interface Slots {
  /** Slots running a job now (settling it included). */
  busy(): number;
  /** Slots whose job still holds its turn: started and not yet executed. */
  executing(): number;
  /** Slots that found nothing to claim and wait out their polling pause (or a wake-up). */
  idle(): number;
  /** Idle slots look for a job now instead of at the end of their polling pause (jobs were queued). */
  wake(): void;
  /** Stops claiming; resolves when the running jobs have finished or `timeoutMs` passed. */
  stop(timeoutMs: number): Promise<void>;
}

/** See JobSettle.completion. */
export function jobCompletion(sql: Sql | TransactionSql, queue: string, job: Pick<Job, 'id' | 'retryCount'>, when: Fragment): Fragment {
  return sql`
    update pgboss.job set completed_on = pgboss.job_now(), state = 'completed', output = null
    where name = ${queue} and id = ${job.id}::uuid and state = 'active' and retry_count = ${job.retryCount} and ${when}`;
}

export function startSlots<T>(count: number, options: SlotOptions<T>): Slots {
  const { boss, queue, logger } = options;
  let stopping = false;
  let busy = 0;
  let executing = 0;
  let idle = 0;
  const wakers = new Set<() => void>();
  /** Counts wake-ups, so a slot whose claim raced one (and found nothing) looks again instead of pausing. */
  let wakeups = 0;
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const done = () => { clearTimeout(timer); wakers.delete(done); resolve(); };
    const timer = setTimeout(done, ms);
    wakers.add(done);
  });

  async function runOne(job: Job<T>, giveBack: () => void): Promise<void> {
    const beat = setInterval(() => {
      void boss.touch(queue, [job]).catch((err: unknown) => logger.warn({ err, jobId: job.id }, 'refreshing a job heartbeat failed'));
    }, options.heartbeatMs);
    executing++;
    let executed = false;
    const onExecuted = () => {
      if (executed) return;
      executed = true;
      executing--;
      giveBack();
    };
    let settledByHandler = false;
    const settle: JobSettle = {
      complete: (db) => boss.complete(queue, [job], undefined, { db }),
      completion: (sql, when) => jobCompletion(sql, queue, job, when),
      committed: () => { settledByHandler = true; },
    };
    try {
      let failure: unknown;
      const outcome = await options.handler(job, onExecuted, settle).then(() => 'done' as const, (err: unknown) => {
        failure = err;
        if (options.requeue?.when(err)) {
          logger.warn({ err, jobId: job.id, queue }, 'job could not start (database lost): queued again');
          return 'requeue' as const;
        }
        logger.error({ err, jobId: job.id, queue }, 'job failed in the host');
        return options.failOnError ? 'failed' as const : 'done' as const;
      });
      // A lost connection here would leave the job active, its pair blocked, until the 60 s
      // silent-job sweep (which also makes a job that never started due again); settling twice
      // is harmless (the second finds the job settled).
      if (outcome === 'requeue') await retryTransient(() => options.requeue!.requeue(job), SETTLE_RETRY_MS);
      else if (outcome === 'failed') await retryTransient(() => boss.fail(queue, [job.id], { message: failure instanceof Error ? failure.message : String(failure) }), SETTLE_RETRY_MS);
      else if (!settledByHandler) await retryTransient(() => boss.complete(queue, [job]), SETTLE_RETRY_MS);
    } catch (err) {
      logger.error({ err, jobId: job.id }, 'settling a job failed');
    } finally {
      clearInterval(beat);
      onExecuted();
    }
  }

  async function slot(): Promise<void> {
    while (!stopping) {
      if (options.claimWhile && !options.claimWhile()) {
        await pause(options.pollMs);
        continue;
      }
      const giveBack = options.turns ? await options.turns.take() : () => {};
      if (stopping) {
        giveBack();
        break;
      }
      let job: Job<T> | undefined;
      const wakeupsBefore = wakeups;
      try {
        [job] = await boss.fetch<T>(queue, { ...options.claim, batchSize: 1 } as FetchOptions);
      } catch (err) {
        logger.error({ err, queue }, 'claiming a job failed');
      }
      if (!job) {
        giveBack();
        if (wakeups === wakeupsBefore) {
          idle++;
          await pause(options.pollMs).finally(() => { idle--; });
        }
        continue;
      }
      busy++;
      await runOne(job, giveBack).finally(() => { busy--; });
    }
  }

  const running = Array.from({ length: count }, () => slot());
  return {
    busy: () => busy,
    executing: () => executing,
    idle: () => idle,
    wake() {
      wakeups++;
      for (const wake of [...wakers]) wake();
    },
    async stop(timeoutMs) {
      stopping = true;
      for (const wake of [...wakers]) wake();
      await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    },
  };
}
