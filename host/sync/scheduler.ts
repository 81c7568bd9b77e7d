/**
 * The worker's periodic loop: settle runs whose process died (no heartbeat), then move due
 * pairs into the queue. A dead run is failed, its pg-boss job is failed too (under the
 * stately policy an "active" job would block its pair), its async action call is settled with
 * the app's action.finished, and its pair gets the retry policy's next attempt; its checkpoint
 * stays, so the retry resumes where it stopped. All of that is one transaction: a sweep that
 * loses its database (or its process) part-way changes nothing, and the next tick finds the same
 * runs. It used to fail the runs first, in a commit of their own: cut after it, a lost call stayed
 * `running` with no event for good and the pair's retry was never scheduled (the next sweep finds
 * only runs still running). Two sweeps at once take disjoint runs (failStale skips locked rows).
 */
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import type { Queue } from '../queue/queue.ts';
import type { Runs, StaleRun } from '../runs/runs.ts';
import { DEFAULT_RETRY, decideRetry, type RetryOptions } from './retry-policy.ts';
import type { Parts } from './parts.ts';
import type { SyncState } from './sync-state.ts';

export interface SchedulerDeps {
  sql: Sql;
  runs: Runs;
  queue: Pick<Queue, 'tick' | 'failJobs' | 'failSilentJobs'>;
  syncState: SyncState;
  parts: Parts;
  logger: Logger;
  staleRunMs: number;
  tickMs: number;
  retry?: Partial<RetryOptions>;
  /** Settles the async action calls of dead action runs (failed, with action.finished), in the sweep's transaction. */
  settleLostActions?: (runIds: string[], tx: TransactionSql) => Promise<unknown>;
}

const WORKER_LOST = { kind: 'internal', code: 'WORKER_LOST', message: 'the process running it died' } as const;

export function createScheduler(deps: SchedulerDeps) {
  const log = deps.logger.child({ module: 'scheduler' });
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...deps.retry };

  /** Fails the dead runs and settles everything that hangs on each, in `tx`. */
  async function sweep(tx: TransactionSql): Promise<StaleRun[]> {
    const dead = await deps.runs.failStale(deps.staleRunMs, tx);
    if (dead.length === 0) return dead;
    // Only a sync run's job_id is a sync-queue job (a webhook run's is its delivery's id).
    await deps.queue.failJobs(dead.flatMap((d) => (d.kind === 'sync' && d.job_id ? [d.job_id] : [])), tx);
    const lostActions = dead.filter((d) => d.kind === 'action').map((d) => d.id);
    if (lostActions.length > 0) await deps.settleLostActions?.(lostActions, tx);
    for (const run of dead.filter((d) => d.kind === 'sync')) {
      if (run.part !== null) {
        // A part is retried on its own, from its checkpoint.
        const key = { connectionId: run.connection_id, syncName: run.script_name, variant: run.variant, part: run.part };
        const part = await deps.parts.get(key, tx);
        if (part) await deps.parts.recordFailure(key, decideRetry(WORKER_LOST, part.retry_attempt, retry), tx);
        continue;
      }
      const state = await deps.syncState.get(run.connection_id, run.script_name, run.variant, tx);
      if (state) await deps.syncState.recordFailure(run.connection_id, run.script_name, run.variant, decideRetry(WORKER_LOST, state.retry_attempt, retry), tx);
    }
    return dead;
  }

  async function tick(): Promise<void> {
    const dead = (await deps.runs.anyStale(deps.staleRunMs)) ? await deps.sql.begin(sweep) : [];
    if (dead.length > 0) log.warn({ runs: dead.map((d) => d.id) }, 'failed runs whose process stopped heartbeating');
    const stranded = await deps.queue.failSilentJobs();
    if (stranded.length > 0) log.warn({ jobs: stranded }, 'failed jobs a lost worker had fetched but not started; sent again as they were (a part: due again)');
    await deps.queue.tick(deps.syncState, deps.parts);
  }

  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  /** A wake-up came while a tick ran: tick again once it is done (what it claimed may predate the wake-up's pairs). */
  let again = false;
  function runTick(): void {
    ticking = tick().catch((err: unknown) => log.error({ err }, 'scheduler tick failed')).finally(() => {
      ticking = null;
      if (again && timer) {
        again = false;
        runTick();
      }
    });
  }
  return {
    tick,
    start(): void {
      timer = setInterval(() => {
        if (!ticking) runTick();
      }, deps.tickMs);
    },
    /** Pairs became due now (queue/work-notices.ts): tick at once rather than at the next interval. */
    wake(): void {
      if (!timer) return;
      if (ticking) again = true;
      else runTick();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      while (ticking) await ticking;
    },
  };
}
