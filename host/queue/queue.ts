/**
 * The run queue (pg-boss) and the scheduler that feeds it. Any number of worker processes on
 * any number of machines can tick and work against one Postgres: claiming due pairs uses
 * SKIP LOCKED, and the queue's "stately" policy with one singleton key per (connection, sync)
 * keeps at most one run queued and one active for a pair.
 *
 * Fairness across environments: every job is in its environment's pg-boss group, and
 * `groupConcurrency` caps the runs of one group across all workers (the environment's
 * max_concurrent_runs, else the host default), so one tenant cannot take every slot. Within a
 * tick, due pairs are ranked per environment and the rank becomes the job's priority (1st pair
 * of every environment before the 2nd of any): a tenant with 2,000 due pairs does not queue
 * ahead of another's single one. Manual triggers go first. Slots (slots.ts) claim one job at a
 * time; reserved slots start only runs of an environment with none going, once the regular slots
 * are all busy, so a tenant holding every regular slot cannot delay another tenant's start.
 */
import { PgBoss, type Job } from 'pg-boss';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import type { SyncJob } from '../sync/run-sync.ts';
import { RunNotStartedError } from '../sync/run-not-started.ts';
import type { DuePart, Parts } from '../sync/parts.ts';
import type { DueSync, SyncState } from '../sync/sync-state.ts';
import { BASE_VARIANT } from '../sync/variants.ts';
import { pgBossDb } from './pg-boss-db.ts';
import { serialClaimsDb } from './serial-claims.ts';
import { startSlots, type JobSettle, type Slots } from './slots.ts';
import { createTurns } from './turns.ts';
import { pairKey, spreadNextRuns } from './spread.ts';
import { SYNC_QUEUED_CHANNEL } from './work-notices.ts';

export const SYNC_QUEUE = 'ferry-sync';
/** Caps an environment may set; each is a pg-boss group tier named after its value. */
export const MAX_ENV_CONCURRENCY = 256;
const CAP_TIERS = Object.fromEntries(Array.from({ length: MAX_ENV_CONCURRENCY }, (_, i) => [`cap${i + 1}`, i + 1]));
const MANUAL_PRIORITY = 1;
const POLL_MS = 500;
/**
 * Sync slots per regular runtime child: while one run settles (its outcome, its queue job), the
 * next starts on the child it left (turns.ts). bench/scheduler's first-run burst: see docs/syncs.md.
 */
export const SLOTS_PER_CHILD = 2;
/** Pairs (and parts) a tick claims and queues per transaction (see tick). */
const TICK_BATCH = 100;
/** How long a job that could not start (database lost) waits before it is claimable again. */
const REQUEUE_DELAY_S = 2;

/** One per (connection, sync, variant) and per part of its split pass; the base variant keeps the key it had before variants. */
export function singletonKey(job: Pick<SyncJob, 'connectionId' | 'syncName' | 'variant' | 'part'>): string {
  const pair = pairKey(job.connectionId, job.syncName, job.variant);
  return job.part === undefined ? pair : `${pair}#${job.part}`;
}

export interface QueueOptions {
  sql: Sql;
  logger: Logger;
  /** Run pg-boss maintenance (supervision, retention) in this process. */
  supervise: boolean;
  /** Runs of one environment at once across all workers, unless its settings say otherwise. */
  defaultEnvironmentConcurrency?: number;
  /**
   * How long a job's worker may go silent before the job counts as lost (FERRY_STALE_RUN_MS):
   * the queue's pg-boss heartbeat, at least pg-boss's minimum of 10 s.
   */
  staleJobMs?: number;
  /** How long an idle slot waits before it looks for a job again when no notice woke it (work-notices.ts). */
  pollMs?: number;
}

/** Job data as queued: the run's input plus when it was due. */
export type QueuedSyncJob = SyncJob;

/** What sending a claimed job again keeps of it (its pgboss.job row). */
interface QueuedCopy {
  data: QueuedSyncJob;
  priority: number;
  group_id: string | null;
  group_tier: string | null;
}

export async function createQueue(options: QueueOptions) {
  const log = options.logger.child({ module: 'queue' });
  const defaultCap = options.defaultEnvironmentConcurrency ?? 20;
  const boss = new PgBoss({ db: serialClaimsDb(options.sql, SYNC_QUEUE), schema: 'pgboss', supervise: options.supervise, schedule: false, migrate: true });
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();
  const queueOptions = {
    policy: 'stately' as const,
    retryLimit: 0,
    // Runs are bounded by the runtime's wall-time limit; pg-boss must not expire them first.
    expireInSeconds: 24 * 3600,
    // A worker host that dies holds its jobs "active", which under the stately policy blocks their
    // pairs. Workers heartbeat every job they fetched (started or not) every half of this;
    // failSilentJobs settles the ones whose heartbeat stopped.
    heartbeatSeconds: Math.max(10, Math.ceil((options.staleJobMs ?? 60_000) / 1000)),
  };
  await boss.createQueue(SYNC_QUEUE, queueOptions).catch((err: unknown) => {
    if (!String((err as Error).message).includes('already exists')) throw err;
  });
  await boss.updateQueue(SYNC_QUEUE, { retryLimit: 0, expireInSeconds: queueOptions.expireInSeconds, heartbeatSeconds: queueOptions.heartbeatSeconds });

  const slots: Slots[] = [];

  async function capTiers(db: Sql | TransactionSql, environmentIds: string[]): Promise<Map<string, string>> {
    const rows = await db<{ environment_id: string; cap: number | null }[]>`
      select environment_id, max_concurrent_runs as cap from environment_settings where environment_id = any(${environmentIds}::bigint[])`;
    const caps = new Map(rows.map((r) => [String(r.environment_id), r.cap]));
    return new Map(environmentIds.map((id) => [id, `cap${caps.get(id) ?? defaultCap}`]));
  }

  function toInsert(data: QueuedSyncJob, tier: string | undefined, priority: number) {
    return {
      data: data as unknown as object,
      singletonKey: singletonKey(data),
      priority,
      ...(data.environmentId && tier && { group: { id: data.environmentId, tier } }),
    };
  }

  /**
   * Puts a claimed job whose run never started (host/sync/run-not-started.ts) back in the queue,
   * with its priority and group (manual triggers still go first, the tenant's cap still holds),
   * and completes the claim, in one transaction: the job is neither lost nor queued twice. A job
   * already queued for the same key (a later trigger or tick; the stately policy allows one) runs
   * the pair instead, and none is added. The fence on the run row keeps the repeat from
   * overlapping a run that did start.
   */
  async function requeueUnstarted(job: Job<QueuedSyncJob>): Promise<void> {
    await options.sql.begin(async (tx) => {
      const [row] = await tx<Omit<QueuedCopy, 'data'>[]>`
        select priority, group_id, group_tier from pgboss.job where name = ${SYNC_QUEUE} and id = ${job.id} and state = 'active'`;
      if (!row) return; // settled meanwhile (the silent-job sweep sent it again)
      const db = pgBossDb(tx);
      await boss.complete(SYNC_QUEUE, [job], undefined, { db });
      await sendAgain(db, { ...row, data: job.data }, REQUEUE_DELAY_S);
    });
  }

  /**
   * Sends a claimed job again as it was queued, in the caller's transaction: its data, key,
   * priority (manual triggers still go first) and group (the tenant's cap still holds).
   */
  async function sendAgain(db: ReturnType<typeof pgBossDb>, job: QueuedCopy, startAfterSeconds?: number): Promise<void> {
    await boss.send(SYNC_QUEUE, job.data as unknown as object, {
      db, singletonKey: singletonKey(job.data), priority: job.priority,
      ...(startAfterSeconds !== undefined && { startAfter: startAfterSeconds }),
      ...(job.group_id && { group: { id: job.group_id, ...(job.group_tier && { tier: job.group_tier }) } }),
    });
  }

  /** One of a tick's batches (see tick): its pairs and parts claimed and queued in one transaction. */
  async function tickBatch(syncState: SyncState, parts: Parts, limit: number, ranks: Map<string, number>): Promise<{ queued: number; full: boolean }> {
    return options.sql.begin(async (tx) => {
      const due = await syncState.claimDue(tx, limit);
      const dueParts = await parts.claimDue(tx, limit);
      const full = due.length === limit || dueParts.length === limit;
      if (due.length === 0 && dueParts.length === 0) return { queued: 0, full };
      await spreadNextRuns(tx, due);
      const jobs: Array<{ environment_id: string; data: QueuedSyncJob }> = [
        ...due.map((d) => ({ environment_id: String(d.environment_id), data: {
          connectionId: d.connection_id, syncName: d.sync_name, ...(d.variant !== BASE_VARIANT && { variant: d.variant }), trigger: 'schedule' as const,
          environmentId: String(d.environment_id), provider: d.provider, scheduledFor: d.due_at.toISOString(),
        } })),
        ...dueParts.map((p: DuePart) => ({ environment_id: String(p.environment_id), data: {
          connectionId: p.connection_id, syncName: p.sync_name, ...(p.variant !== BASE_VARIANT && { variant: p.variant }), part: p.part,
          trigger: 'schedule' as const, environmentId: String(p.environment_id), provider: p.provider,
        } })),
      ];
      if (jobs.length === 0) return { queued: 0, full };
      const tiers = await capTiers(tx, [...new Set(jobs.map((j) => j.environment_id))]);
      await boss.insert(SYNC_QUEUE, rankPerEnvironment(jobs, ranks).map(({ d, rank }) => toInsert(d.data, tiers.get(d.environment_id), -rank)), { db: pgBossDb(tx) });
      // At the commit, every worker host's idle slots claim them (work-notices.ts).
      await tx`select pg_notify(${SYNC_QUEUED_CHANNEL}, '')`;
      return { queued: jobs.length, full };
    });
  }

  return {
    boss,

    /** Manual triggers ("run now", "full run"): ahead of scheduled runs. Null when one is already queued. */
    async enqueue(job: QueuedSyncJob): Promise<string | null> {
      const tier = job.environmentId ? (await capTiers(options.sql, [job.environmentId])).get(job.environmentId) : undefined;
      const { data, ...rest } = toInsert(job, tier, MANUAL_PRIORITY);
      const id = await boss.send(SYNC_QUEUE, data, rest);
      // Idle slots claim it now, not at their next poll (work-notices.ts); a lost notice costs only that poll.
      if (id !== null) await options.sql`select pg_notify(${SYNC_QUEUED_CHANNEL}, '')`.catch(() => {});
      return id;
    },

    /** Sync jobs were queued (work-notices.ts): idle slots claim now. */
    wake(): void {
      for (const slot of slots) slot.wake();
    },

    /** Sync slots waiting out their polling pause, having found nothing to claim. */
    idleSlots(): number {
      return slots.reduce((n, slot) => n + slot.idle(), 0);
    },

    /**
     * Moves due pairs, and due parts of split passes (sync/parts.ts), into the queue, atomically
     * with advancing their next run, up to `limit` of each. Parts are ranked with the pairs in
     * their environment's group. In batches of TICK_BATCH, each its own transaction: the first
     * jobs are claimable while the rest are queued (bench/scheduler: 2,000 pairs due at once
     * waited for a transaction of 1,000 before the first could start). The ranks run on across
     * a tick's batches, as in one.
     */
    async tick(syncState: SyncState, parts: Parts, limit = 1000): Promise<number> {
      const ranks = new Map<string, number>();
      let queued = 0;
      for (let left = limit; left > 0; left -= TICK_BATCH) {
        const batch = await tickBatch(syncState, parts, Math.min(left, TICK_BATCH), ranks);
        queued += batch.queued;
        if (!batch.full) break;
      }
      return queued;
    },

    /**
     * Slots for `concurrency` regular runtime children (SLOTS_PER_CHILD each, at most
     * `concurrency` of them starting or running a script at once) that claim one job at a time
     * within each environment's cap, plus `reserved` slots, one per reserved child, that claim
     * only jobs of an environment with no run going (see fairness in docs/syncs.md): one tenant
     * whose runs hold every regular child cannot delay another's start. The handler calls
     * `executed` once its run no longer needs its child.
     */
    work(concurrency: number, handler: (job: SyncJob, jobId: string, executed: () => void, settle: JobSettle) => Promise<unknown>, reserved = 0): void {
      const common = {
        boss, queue: SYNC_QUEUE, pollMs: options.pollMs ?? POLL_MS, heartbeatMs: (queueOptions.heartbeatSeconds * 1000) / 2, logger: log,
        handler: (job: Job<QueuedSyncJob>, executed: () => void, settle: JobSettle) => handler(job.data, job.id, executed, settle),
        requeue: { when: (err: unknown) => err instanceof RunNotStartedError, requeue: requeueUnstarted },
      };
      const regular = startSlots(concurrency * SLOTS_PER_CHILD, {
        ...common, turns: createTurns(concurrency), claim: { groupConcurrency: { default: defaultCap, tiers: CAP_TIERS } },
      });
      slots.push(regular);
      // Only while every regular child has a run starting or running on it, and only an
      // environment with no active run (a group cap of 1): the tenant holding the regular children
      // cannot take the reserve too.
      if (reserved > 0) slots.push(startSlots(reserved, { ...common, claim: { groupConcurrency: 1 }, claimWhile: () => regular.executing() >= concurrency }));
    },

    /** Settles the pg-boss jobs of runs found dead, so their pairs can run again at once (in `tx`: the sweep's). */
    async failJobs(jobIds: string[], tx?: TransactionSql): Promise<void> {
      if (jobIds.length > 0) await boss.fail(SYNC_QUEUE, jobIds, { message: 'worker lost' }, tx ? { db: pgBossDb(tx) } : {});
    },

    /**
     * Fails the sync jobs whose worker stopped heartbeating them and that never got a run row: a
     * killed worker's job claimed in the instant before its run row was written. No run tells
     * failStale about these, and pg-boss's own supervisor would take up to another minute. A
     * pair's job is sent again as it was, with its data, priority and group, in the transaction
     * that fails it: a manual trigger stays manual (first in line, `full`, runs despite a
     * connection needing re-authorisation), a scheduled one keeps its due time, so the kill costs
     * neither. A job already queued for the pair (the stately policy allows one) runs it instead.
     * A part's job makes its part due again (the tick sends it). Jobs that did start are left to
     * the stale-run sweep, which also schedules their retry. Rows are locked SKIP LOCKED: two
     * ticking workers never fail and re-send one job twice.
     */
    async failSilentJobs(): Promise<Array<{ id: string; connectionId: string; syncName: string; variant: string }>> {
      return options.sql.begin(async (tx) => {
        const silent = await tx<(QueuedCopy & { id: string })[]>`
          select j.id::text as id, j.data, j.priority, j.group_id, j.group_tier
          from pgboss.job j
          where j.name = ${SYNC_QUEUE} and j.state = 'active' and j.heartbeat_seconds is not null
            and j.heartbeat_on + j.heartbeat_seconds * interval '1 second' < pgboss.job_now()
            and not exists (select 1 from runs r where r.job_id = j.id::text)
          for update of j skip locked`;
        if (silent.length === 0) return [];
        const db = pgBossDb(tx);
        await boss.fail(SYNC_QUEUE, silent.map((j) => j.id), { message: 'worker lost before the run started' }, { db });
        for (const j of silent.filter((s) => s.data.part === undefined)) await sendAgain(db, j);
        const lostParts = JSON.stringify(silent.filter((j) => j.data.part !== undefined)
          .map((j) => ({ c: j.data.connectionId, s: j.data.syncName, v: j.data.variant ?? BASE_VARIANT, p: j.data.part })));
        await tx`
          update sync_parts p set status = 'pending', next_run_at = now()
          from jsonb_array_elements(${lostParts}::text::jsonb) f
          where p.connection_id = (f->>'c')::bigint and p.sync_name = f->>'s' and p.variant = f->>'v' and p.part = f->>'p' and p.status = 'queued'`;
        return silent.map((j) => ({ id: j.id, connectionId: j.data.connectionId, syncName: j.data.syncName, variant: j.data.variant ?? BASE_VARIANT }));
      });
    },

    async close(): Promise<void> {
      await Promise.all(slots.map((slot) => slot.stop(10_000)));
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
export type Queue = Awaited<ReturnType<typeof createQueue>>;

/** Rank 1 for each environment's most overdue pair, 2 for its next, …; `seen` carries the ranks on from an earlier batch. */
export function rankPerEnvironment<T extends Pick<DueSync, 'environment_id'>>(due: T[], seen = new Map<string, number>()): Array<{ d: T; rank: number }> {
  return due.map((d) => {
    const rank = (seen.get(String(d.environment_id)) ?? 0) + 1;
    seen.set(String(d.environment_id), rank);
    return { d, rank };
  });
}
