/**
 * One execution of a (connection, sync): choose what it reads (strategy), run it in the
 * runtime, and settle it. State moves only when the run succeeds, in the transaction that
 * finishes the run, applies a full refresh's deletes and queues the app's webhook; a failed run
 * keeps the records it saved (partial success), leaves lastSyncDate alone, keeps its checkpoint
 * for the next run to resume from, and schedules a retry by the retry policy.
 */
import type { RunError, Runtime, ScriptManifest, Usage } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { ConnectionRow, Connections } from '../connections/connections.ts';
import type { Providers } from '../connections/providers.ts';
import type { Scripts } from '../deploy/scripts.ts';
import type { Logger } from '../logger.ts';
import type { Proxy } from '../proxy/proxy.ts';
import { executeRun } from '../runs/execute-run.ts';
import { pgBossDb } from '../queue/pg-boss-db.ts';
import type { JobSettle } from '../queue/slots.ts';
import { isTransientDatabaseError, retryTransient, SETTLE_RETRY_MS } from '../db/transient.ts';
import { named, STATEMENT_NAMES } from '../db/statement-names.ts';
import { RunNotStartedError } from './run-not-started.ts';
import { limitCapsRead, runLimits } from '../runs/run-limits.ts';
import { readTogether, type ReadResults } from '../db/read-together.ts';
import { claimRun, fencedWrite, isRunFenced, RunFencedError } from '../runs/run-fence.ts';
import type { RunWarning, Runs } from '../runs/runs.ts';
import { settleUnseen } from '../store/records-deletes.ts';
import { webhookUrlRead, type FerryWebhookEvent, type SyncWebhook } from '../webhooks-out/deliveries.ts';
import { parseDuration } from './frequency.ts';
import { DEFAULT_RETRY, decideRetry, type RetryOptions } from './retry-policy.ts';
import { createRunBridge, type ModelCounts, type RecordWriter } from './run-bridge.ts';
import { keyParts, planWindows, type PartWindow, type Parts, type TimeSplit } from './parts.ts';
import { scheduledRunBlocker } from './run-blockers.ts';
import type { Pass, SyncState, SyncStateRow } from './sync-state.ts';
import { BASE_VARIANT, storedModel } from './variants.ts';

export interface SyncJob {
  connectionId: string;
  syncName: string;
  /** The variant to run (host/sync/variants.ts); absent = 'base'. */
  variant?: string;
  /** One part of the pair's split pass (host/sync/parts.ts); absent = the pair itself. */
  part?: string;
  trigger: 'schedule' | 'manual';
  full?: boolean;
  /** Set by the scheduler: when the pair was due (start lag = run start − this). */
  scheduledFor?: string;
  /**
   * The connection's environment and provider (neither ever changes), set by whoever queues the
   * job: the run then reads its connection together with its other reads. A job without them (one
   * queued before they were carried) reads the connection first.
   */
  environmentId?: string;
  provider?: string;
}

export type SyncOutcome =
  | { status: 'skipped'; reason: string }
  | { status: 'succeeded' | 'failed'; runId: string; error?: RunError };

export interface WebhookOutbox {
  enqueue(tx: TransactionSql, environmentId: string, runId: string, events: SyncWebhook[]): Promise<number>;
  publish(tx: TransactionSql, environmentId: string, events: FerryWebhookEvent[], runId?: string | null): Promise<number>;
}

export interface SyncRunnerDeps {
  sql: Sql;
  runtime: Runtime;
  records: RecordWriter;
  runs: Runs;
  syncState: SyncState;
  parts: Parts;
  scripts: Scripts;
  connections: Connections;
  providers: Providers;
  proxy: Proxy;
  logger: Logger;
  heartbeatMs?: number;
  retry?: Partial<RetryOptions>;
  webhooks?: WebhookOutbox;
}

type SyncManifest = Extract<ScriptManifest, { type: 'sync' }>;

const IDLE: Usage = { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: 0 };

/** A succeeded run's counts for every declared model, those it did not change as zeros (`ferry trigger --follow` lists each). */
function withDeclared(counts: ModelCounts, models: readonly string[]): ModelCounts {
  const all: ModelCounts = new Map(models.map((m) => [m, { added: 0, updated: 0, deleted: 0 }]));
  for (const [model, c] of counts) all.set(model, { ...c });
  return all;
}

/** Which pass this run belongs to: a fresh one (by strategy) or the one its checkpoint resumes. */
export function choosePass(manifest: SyncManifest, state: SyncStateRow, job: SyncJob, now: Date): { pass: Pass; resumed: boolean } {
  const fullAsked = job.full === true || state.full_requested;
  if (state.checkpoint !== null && state.pass_started_at !== null && !fullAsked) {
    return {
      resumed: true,
      pass: { startedAt: state.pass_started_at, full: state.pass_full, since: state.pass_since, tracksDeletes: state.pass_tracks_deletes },
    };
  }
  const incremental = manifest.syncType === 'incremental';
  // A full pass that did not finish (its run failed, or was swept as WORKER_LOST) and left no
  // checkpoint to resume from is redone full: beginning it cleared full_requested, so the retry
  // of a "full resync" trigger became incremental.
  const unfinishedFull = state.pass_started_at !== null && state.pass_full;
  const full = fullAsked || unfinishedFull || !incremental || state.last_sync_date === null
    || (manifest.fullRefreshEvery !== undefined && state.incrementals_since_full >= manifest.fullRefreshEvery);
  const backfillMs = incremental && manifest.backfill ? parseDuration(manifest.backfill) : null;
  const since = full ? (backfillMs ? new Date(now.getTime() - backfillMs) : null) : state.last_sync_date;
  // Deletes only when asked (`trackDeletes`, as in Nango). Only a walk of everything can tell
  // that a record is gone, and only once a walk has succeeded is there anything to delete: the
  // first pass skips the bookkeeping.
  const tracksDeletes = manifest.trackDeletes && full && since === null && state.last_sync_date !== null;
  return { resumed: false, pass: { startedAt: now, full, since, tracksDeletes } };
}

/**
 * Awaits statements issued together on one transaction: all of them, even when one fails, so
 * none is still pending when the transaction ends (one issued after that would run outside it).
 * Postgres runs them in the order they were issued. Rejects with the first failure.
 */
async function allIssued<T extends readonly unknown[]>(pending: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(pending);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

export function createSyncRunner(deps: SyncRunnerDeps) {
  const log = deps.logger.child({ module: 'sync-runner' });
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...deps.retry };

  /** Per model, the newest cursor before this run: the app reads from there to see its changes. One statement for every model. */
  async function cursorsBefore(connectionId: string, models: readonly string[], variant: string): Promise<Map<string, string>> {
    const rows = await deps.sql<{ model: string; max: string | null }[]>`
      ${named(deps.sql, STATEMENT_NAMES.runCursorsBefore)} select m.model, (select max(cursor)::text from records where connection_id = ${connectionId} and model = m.stored and cursor > 0) as max
      from unnest(${models as string[]}::text[], ${models.map((m) => storedModel(m, variant))}::text[]) as m(model, stored)`;
    const found = new Map(rows.map((r) => [r.model, r.max ?? '0']));
    return new Map(models.map((model) => [model, found.get(model) ?? '0']));
  }

  function webhookEvents(connection: ConnectionRow, syncName: string, variant: string, runId: string, pass: Pass, counts: ModelCounts, warnings: readonly RunWarning[], cursors: Map<string, string>): SyncWebhook[] {
    const models = new Set([...counts].filter(([, c]) => c.added + c.updated + c.deleted > 0).map(([model]) => model));
    for (const w of warnings) models.add(w.model);
    return [...models].map((model) => {
      const modelWarnings = warnings.filter((w) => w.model === model);
      return {
        type: 'sync', from: 'ferry', connection_id: connection.connection_id, provider: connection.provider,
        sync_name: syncName, ...(variant !== BASE_VARIANT && { variant }), model, sync_type: pass.full ? 'full' : 'incremental', run_id: String(runId),
        counts: counts.get(model) ?? { added: 0, updated: 0, deleted: 0 }, cursor: cursors.get(model) ?? '0', modified_after: pass.startedAt.toISOString(),
        ...(modelWarnings.length > 0 && { warnings: modelWarnings }),
      };
    });
  }

  return {
    /**
     * Runs the job. Throws RunNotStartedError when the database was lost before the run row was
     * written: nothing of the run exists, so its job must be queued again, not completed.
     */
    async run(job: SyncJob, jobId?: string, executed: () => void = () => {}, settle?: JobSettle): Promise<SyncOutcome> {
      let started = false;
      try {
        return await runJob(job, jobId, () => { started = true; }, executed, settle);
      } catch (err) {
        if (!started && isTransientDatabaseError(err)) throw new RunNotStartedError(err);
        throw err;
      }
    },
  };

  /**
   * `executed` says the run no longer needs its runtime child (host/queue/turns.ts): its script has
   * run. `settle`, from the queue's slot, completes the run's job in the transaction that settles
   * the run (slots.ts: JobSettle).
   */
  async function runJob(job: SyncJob, jobId: string | undefined, markStarted: () => void, executed: () => void, settle: JobSettle | undefined): Promise<SyncOutcome> {
      const variant = job.variant ?? BASE_VARIANT;
      const pair = { connectionId: job.connectionId, syncName: job.syncName, variant };
      const partKey = job.part === undefined ? null : { ...pair, part: job.part };
      const scheduledPair = job.trigger === 'schedule' && !partKey;
      // Independent reads, in one statement (db/read-together.ts): bench/scheduler's first-run
      // burst is bounded by CPU, which each statement costs the host and Postgres.
      const readsOf = (environmentId: string, providerName: string) => [
        deps.scripts.activeRead(environmentId, providerName, job.syncName),
        deps.syncState.stateRead(job.connectionId, job.syncName, variant),
        deps.providers.providerRead(environmentId, providerName),
        partKey ? deps.parts.partRead(partKey) : undefined,
        limitCapsRead(deps.sql, environmentId),
        scheduledPair || partKey ? deps.syncState.connectionPausedRead(job.connectionId) : undefined,
        // Parts are made only by a run of the pair itself, so none can appear before this run starts.
        partKey ? undefined : deps.parts.anyRead(pair),
        deps.webhooks ? webhookUrlRead(deps.sql, environmentId) : undefined,
      ] as const;
      // The job says the connection's environment and provider, so the connection is read with
      // the rest; one that does not (or disagrees: never, neither changes) reads it first.
      const known = job.environmentId !== undefined && job.provider !== undefined ? { environmentId: job.environmentId, provider: job.provider } : null;
      let connection: ConnectionRow | null;
      let readFirst: ReadResults<ReturnType<typeof readsOf>> | null = null;
      if (known) {
        [connection, ...readFirst] = await retryTransient(() => readTogether(deps.sql, [deps.connections.byIdRead(job.connectionId), ...readsOf(known.environmentId, known.provider)] as const));
      } else {
        connection = await retryTransient(() => deps.connections.getById(job.connectionId));
      }
      if (!connection) return { status: 'skipped', reason: 'connection deleted' };
      const readAsKnown = readFirst !== null && String(connection.environment_id) === known!.environmentId && connection.provider === known!.provider;
      const [script, state, provider, part, caps, connectionPaused = false, splitGoingOn = false, webhookUrl = null] = readAsKnown
        ? readFirst!
        : await retryTransient(() => readTogether(deps.sql, readsOf(connection.environment_id, connection.provider)));
      if (!script || script.manifest.type !== 'sync') return { status: 'skipped', reason: 'sync not deployed' };
      const manifest = script.manifest;
      if (!state) return { status: 'skipped', reason: variant === BASE_VARIANT ? 'sync not enabled for this connection' : `variant "${variant}" of this sync does not exist (removed)` };
      // Paused since the tick queued it (or since the silent-job sweep sent a lost one again): the
      // tick would not queue it now, so it does not run. A manual trigger still goes. A part
      // queued before the pause waits too, in its pass (its checkpoint and retries kept): it is
      // pending and due again, and the tick claims it once the pair is resumed. A part already
      // running finishes.
      if ((scheduledPair || (partKey && !part?.run_while_paused)) && (state.paused || connectionPaused)) {
        if (partKey) await deps.parts.waitForResume(partKey);
        return { status: 'skipped', reason: `the ${connectionPaused ? "connection's syncs are" : 'sync is'} paused` };
      }
      if (!provider) {
        // A claimed part waits, held, until the provider is configured (PUT /providers re-arms it).
        if (partKey) await deps.parts.hold(partKey, 'provider');
        return { status: 'skipped', reason: scheduledRunBlocker(connection, false)!.message };
      }
      // Queued before the connection lost its credentials: not a run (it would only fail). A manual
      // run still goes, and fails saying why.
      const blocker = job.trigger === 'schedule' ? scheduledRunBlocker(connection, true) : null;
      if (blocker) {
        // A claimed part waits, held, until new credentials (sync-state.ts resumeAfterReauth).
        if (partKey) await deps.parts.hold(partKey, 'reauth');
        else await deps.syncState.markWaitingReauth(connection.id, job.syncName, variant);
        return { status: 'skipped', reason: blocker.message };
      }
      if (partKey && (!part || part.status === 'succeeded' || state.pass_started_at === null)) return { status: 'skipped', reason: 'the part is done or its pass is over' };
      // A split pass going on: this run of the pair resumes it (parts that gave up get fresh
      // retries) instead of starting another pass over it. A manual one of a paused pair runs
      // its waiting parts despite the pause, as a manual trigger runs a sync that is not split.
      const whilePaused = splitGoingOn && job.trigger === 'manual' && (state.paused || await retryTransient(() => deps.syncState.isConnectionPaused(connection.id)));
      if (splitGoingOn && await deps.parts.rearm(pair, { whilePaused })) return { status: 'skipped', reason: 'a split pass is in progress: its parts run on their own' };

      const chosen = part
        ? { resumed: part.checkpoint !== null, pass: { startedAt: state.pass_started_at!, full: state.pass_full, since: state.pass_since, tracksDeletes: state.pass_tracks_deletes } }
        : choosePass(manifest, state, job, new Date());
      const { pass, resumed } = chosen;
      // A fresh full pass of everything, of a sync that declares `split`, runs as parts.
      const splits = !part && !resumed && pass.full && pass.since === null && manifest.split !== undefined;
      const checkpoint = part ? part.checkpoint : resumed ? state.checkpoint : null;
      const limits = runLimits(manifest.limits, caps);
      const models = manifest.models;
      const stored = models.map((m) => storedModel(m, variant));
      // The run row and, for a fresh pass, the pass's beginning in one statement: one round trip
      // and one commit (bench/scheduler: a transaction around them was five round trips), and no
      // pass begun for a run row that was never written. A split begins its pass in its own
      // fenced write, after listing its parts. The run is created here, so it needs no fence claim.
      const startRun = {
        connectionId: connection.id, scriptName: job.syncName, variant, part: job.part ?? null, kind: 'sync' as const, scriptVersion: script.version,
        trigger: job.full || (state.full_requested && !resumed) ? 'full' : job.trigger, isFull: pass.full,
        jobId: jobId ?? null, scheduledFor: job.scheduledFor ? new Date(job.scheduledFor) : null, resumed,
        fetchSince: pass.since, fetchCheckpoint: checkpoint,
        memoryLimitMb: limits.memoryMb,
      };
      const beginsPass = !splits && !resumed && !part;
      const run = await retryTransient(async () => {
        const row = await deps.runs.start(startRun, deps.sql, beginsPass
          ? (started) => deps.syncState.beginPassOnStart(deps.sql, connection.id, job.syncName, pass, variant, stored, started)
          : undefined);
        if (row || !jobId) return row;
        // Refused: a run of the pair is going on, or this start's own commit went through unseen
        // and this is its repeat. The latter carries on with the row it wrote, at once, instead of
        // being refused as "already in progress" and left to the stale-run sweep; beginning the
        // pass again is a no-op, nothing of the run has run yet.
        return deps.sql.begin(async (tx) => {
          const unseen = await deps.runs.startedUnseen(tx, jobId);
          if (unseen && beginsPass) await deps.syncState.beginPass(tx, connection.id, job.syncName, { ...pass, startedAt: unseen.started_at }, variant, stored);
          return unseen;
        });
      });
      if (run && beginsPass) pass.startedAt = run.started_at;
      if (!run) return { status: 'skipped', reason: 'a run of this sync is already in progress' };
      markStarted();
      const where = { runId: run.id, sync: job.syncName, variant, ...(partKey && { part: partKey.part }), connection: connection.connection_id };
      // Defined before the split: a split run's failure (its listing) settles the same way.
      const fail = async (error: RunError, usage: Usage, modelCounts?: ModelCounts): Promise<SyncOutcome> => {
        const attempt = part ? part.retry_attempt : state.retry_attempt;
        const decision = decideRetry(error, attempt, { ...retry, ...(manifest.retries !== undefined && { maxRetries: manifest.retries }) });
        // Settled and rescheduled together, and only by the process that still holds the run: one
        // that lost it (failed as WORKER_LOST while frozen) leaves the pair to its new run. When no
        // retry is left, the app's sync.failed event is written in the same transaction. A part
        // is retried on its own; the pass's state does not move.
        const settled = await retryTransient(() => deps.sql.begin(async (tx) => {
          if (!(await deps.runs.finish(run.id, { status: 'failed', usage, error, ...(modelCounts && { modelCounts }) }, tx))) return false;
          await settle?.complete(pgBossDb(tx));
          if (partKey) {
            await deps.parts.recordFailure(partKey, decision, tx);
            if (decision === null) await deps.syncState.recordFailure(connection.id, job.syncName, variant, null, tx);
          } else {
            await deps.syncState.recordFailure(connection.id, job.syncName, variant, decision, tx);
          }
          if (decision === null) {
            await deps.webhooks?.publish(tx, connection.environment_id, [{
              type: 'sync.failed', from: 'ferry', connection_id: connection.connection_id, provider: connection.provider,
              sync_name: job.syncName, ...(variant !== BASE_VARIANT && { variant }), run_id: run.id, error: { code: error.code, message: error.message },
            }], run.id);
          }
          return true;
        }), SETTLE_RETRY_MS);
        if (settled) settle?.committed();
        if (!settled) {
          log.warn({ ...where, error }, 'sync run lost: another process settled it; this process wrote nothing more');
          return { status: 'failed', runId: run.id, error: { kind: 'internal', code: 'RUN_FENCED', message: `run ${run.id} was settled by another process` } };
        }
        log.warn({ ...where, error, retryInMs: decision?.delayMs ?? null }, 'sync run failed');
        return { status: 'failed', runId: run.id, error };
      };
      // A host fault between the run's start and its settle (a read or write whose retries ran
      // out) fails the run, retried by the policy: thrown past it, it left the run row 'running',
      // its pair blocked until the 60 s stale sweep (test/sync/backend-killed-host).
      const hostFault = async (err: unknown): Promise<SyncOutcome> => {
        if (isRunFenced(err)) return { status: 'failed', runId: run.id, error: { kind: 'internal', code: 'RUN_FENCED', message: (err as Error).message } };
        log.error({ ...where, err }, 'sync run failed in the host');
        const message = err instanceof Error ? err.message : String(err);
        return fail({ kind: 'internal', code: isTransientDatabaseError(err) ? 'DATABASE_ERROR' : 'INTERNAL', message }, IDLE);
      };

      if (splits) return split(run.id, run.started_at, pass);
      const announces = deps.webhooks !== undefined && webhookUrl !== null;
      let cursors: Map<string, string>;
      let bridge: ReturnType<typeof createRunBridge>;
      let result: Awaited<ReturnType<typeof executeRun>>;
      try {
        if (partKey) await retryTransient(() => fencedWrite(deps.sql, run.id, (tx) => deps.parts.markRunning(tx, partKey, run.id)));
        // Only an environment with a webhook URL when the run starts hears of its changes: the
        // others need neither the cursors nor a webhook at the settle (a statement less per run).
        cursors = announces ? await retryTransient(() => cursorsBefore(connection.id, models, variant)) : new Map<string, string>();
        bridge = createRunBridge(deps, {
          runId: run.id, script, connection, provider, models, syncName: job.syncName, variant, ...(partKey && { part: partKey.part }),
          tracksFullDeletes: pass.tracksDeletes, resumed, startCheckpoint: checkpoint, massDeleteGuard: manifest.massDeleteGuard,
        });
        result = await executeRun(deps, {
          runId: run.id, kind: 'sync', script, connection, provider, bridge, limits,
          lastSyncDate: pass.since, isFullRun: pass.full, checkpoint, variant,
          ...(part && { partition: { key: part.part, from: part.window_from?.toISOString() ?? null, to: part.window_to?.toISOString() ?? null } }),
        });
      } catch (err) {
        return hostFault(err);
      }
      executed();
      if (!result.ok) return fail(result.error, result.usage, bridge.modelCounts);
      try {
        // A settle lost to a dropped connection is tried again: had it committed unseen, the
        // repeat's fence is refused (the run is settled), so nothing is applied twice.
        const settleSucceeded = async (tx: TransactionSql) => {
          bridge.resetUnseen();
          // The fence is claimed first (fencedWrite's claim, pipelined with what follows and run
          // first by Postgres, or the finish itself: see below), so a run that lost the pair
          // applies no deletes and moves no state. A part settles the pass only when it is the
          // last one to succeed.
          const passDone = partKey ? await deps.parts.succeed(tx, partKey, run.id) : true;
          if (passDone && pass.tracksDeletes) {
            let total = 0;
            for (const model of models) {
              const target = { connectionId: connection.id, syncName: job.syncName, scope: 'full' as const, model: storedModel(model, variant) };
              const outcome = await settleUnseen(tx, target, run.id, manifest.massDeleteGuard);
              bridge.noteUnseen(model, outcome);
              total += outcome.deleted;
            }
            if (total > 0) await tx`update runs set deleted = deleted + ${total} where id = ${run.id}`;
          }
          // The rest depends on no earlier answer: issued together, one round trip instead of
          // four (bench/scheduler: a no-op run's settle was most of its host's queries); the
          // state moves in the finish's own statement, only if the finish settled the run.
          const events = webhookEvents(connection, job.syncName, variant, run.id, pass, bridge.modelCounts, bridge.warnings, cursors);
          const [finished] = await allIssued([
            deps.runs.finish(run.id, { status: 'succeeded', usage: result.usage, warnings: bridge.warnings, modelCounts: withDeclared(bridge.modelCounts, models) }, tx,
              passDone ? (finishing) => [deps.syncState.recordSuccessOnFinish(tx, connection.id, job.syncName, pass, variant, finishing)] : undefined),
            passDone && partKey ? deps.parts.finish(tx, pair) : null,
            announces ? deps.webhooks!.enqueue(tx, connection.environment_id, run.id, events) : null,
            settle?.complete(pgBossDb(tx)) ?? null,
          ] as const);
          // Already settled as dead (a stalled process): roll back deletes and the state change.
          if (!finished) throw new RunFencedError(run.id);
        };
        // With nothing to write before the finish (no part, no deletes), the finish is the fence:
        // issued first, it settles only a running run and locks its row to the commit, as
        // fencedWrite's claim does, so the claim would be a statement more for nothing.
        const finishFences = !partKey && !pass.tracksDeletes;
        // And with no webhook either, the finish, the state's move and the job's completion are
        // one statement on its own: one round trip and no BEGIN or COMMIT (bench/scheduler: the
        // settle was four statements in two round trips). Both writes beside the finish apply
        // only if it settled the run, so a run that lost its pair changes nothing.
        const alone = finishFences && (!announces || webhookEvents(connection, job.syncName, variant, run.id, pass, bridge.modelCounts, bridge.warnings, cursors).length === 0);
        const settleAlone = async () => {
          const finished = await deps.runs.finish(run.id, { status: 'succeeded', usage: result.usage, warnings: bridge.warnings, modelCounts: withDeclared(bridge.modelCounts, models) }, deps.sql,
            (finishing) => [
              deps.syncState.recordSuccessOnFinish(deps.sql, connection.id, job.syncName, pass, variant, finishing),
              ...(settle ? [settle.completion(deps.sql, finishing.exists)] : []),
            ]);
          if (!finished) throw new RunFencedError(run.id);
        };
        await retryTransient(() => (alone ? settleAlone() : finishFences ? deps.sql.begin(settleSucceeded) : fencedWrite(deps.sql, run.id, settleSucceeded)), SETTLE_RETRY_MS);
        settle?.committed();
      } catch (err) {
        if (!isRunFenced(err)) log.error({ err, runId: run.id }, 'settling a successful sync run failed');
        const message = err instanceof Error ? err.message : String(err);
        return fail({ kind: 'internal', code: isTransientDatabaseError(err) ? 'DATABASE_ERROR' : 'INTERNAL', message }, result.usage);
      }
      log.info({ ...where, usage: result.usage }, 'sync run succeeded');
      return { status: 'succeeded', runId: run.id };

      /**
       * Begins a split pass: its parts, due at once, replace the pair's checkpoint, in the run's
       * fenced transaction, and the run that split it succeeds without running `exec` (the pass
       * itself succeeds with its last part). A key split first runs the script's
       * `split.partitions` in the runtime, under the run's limits; its failure is this run's.
       */
      async function split(runId: string, startedAt: Date, splitPass: Pass): Promise<SyncOutcome> {
        const spec = manifest.split!;
        const planned = spec.by === 'time' ? timeParts(spec, startedAt) : await listedParts(runId);
        if (!planned.ok) return fail(planned.error, planned.usage);
        const { parts: windows, usage, logSeq, describe } = planned;
        splitPass.startedAt = startedAt;
        if (windows.length === 0) return emptyPass(runId, splitPass, usage, logSeq);
        try {
          await retryTransient(() => fencedWrite(deps.sql, runId, async (tx) => {
            await deps.syncState.beginPass(tx, connection!.id, job.syncName, splitPass, variant, stored);
            await deps.parts.begin(tx, pair, windows);
            await deps.runs.appendLogs(runId, logSeq, [{ level: 'info', message: `full pass split into ${windows.length} parts (${describe}); they run on their own`, at: new Date().toISOString() }], tx);
            if (!(await deps.runs.finish(runId, { status: 'succeeded', usage }, tx))) throw new Error(`run ${runId} was settled by another process`);
          }));
        } catch (err) {
          return hostFault(err);
        }
        log.info({ runId, sync: job.syncName, variant, parts: windows.length, by: spec.by }, 'full pass split into parts');
        return { status: 'succeeded', runId };
      }

      /**
       * A key split with nothing to split (an account with no mailboxes): the pass is done as it
       * begins. In one fenced transaction it begins and succeeds (lastSyncDate moves, an older
       * pass's parts go), and a full refresh's deletes apply as for a pass that saw nothing,
       * under the mass-delete guard.
       */
      async function emptyPass(runId: string, emptied: Pass, usage: Usage, logSeq: number): Promise<SyncOutcome> {
        const counter = createRunBridge(deps, { runId, connection: connection!, provider: provider!, models, syncName: job.syncName, variant, massDeleteGuard: manifest.massDeleteGuard });
        try {
          const cursors = deps.webhooks ? await retryTransient(() => cursorsBefore(connection!.id, models, variant)) : new Map<string, string>();
          await retryTransient(() => fencedWrite(deps.sql, runId, async (tx) => {
            counter.resetUnseen();
            await deps.syncState.beginPass(tx, connection!.id, job.syncName, emptied, variant, stored);
            await deps.parts.begin(tx, pair, []);
            if (emptied.tracksDeletes) {
              let total = 0;
              for (const model of models) {
                const target = { connectionId: connection!.id, syncName: job.syncName, scope: 'full' as const, model: storedModel(model, variant) };
                const outcome = await settleUnseen(tx, target, runId, manifest.massDeleteGuard);
                counter.noteUnseen(model, outcome);
                total += outcome.deleted;
              }
              if (total > 0) await tx`update runs set deleted = deleted + ${total} where id = ${runId}`;
            }
            await deps.syncState.recordSuccess(tx, connection!.id, job.syncName, emptied, variant);
            await deps.runs.appendLogs(runId, logSeq, [{ level: 'info', message: 'split.partitions returned no keys: nothing to split, the pass succeeds with zero parts', at: new Date().toISOString() }], tx);
            if (!(await deps.runs.finish(runId, { status: 'succeeded', usage, warnings: counter.warnings, modelCounts: withDeclared(counter.modelCounts, models) }, tx))) {
              throw new Error(`run ${runId} was settled by another process`);
            }
            await deps.webhooks?.enqueue(tx, connection!.environment_id, runId, webhookEvents(connection!, job.syncName, variant, runId, emptied, counter.modelCounts, counter.warnings, cursors));
          }));
        } catch (err) {
          return hostFault(err);
        }
        log.info({ runId, sync: job.syncName, variant }, 'key split listed no keys: the pass succeeded with zero parts');
        return { status: 'succeeded', runId };
      }

      type Planned = { ok: true; parts: PartWindow[]; usage: Usage; logSeq: number; describe: string } | { ok: false; error: RunError; usage: Usage };

      function timeParts(spec: TimeSplit, startedAt: Date): Planned {
        try {
          const windows = planWindows(spec, startedAt);
          return { ok: true, parts: windows, usage: IDLE, logSeq: 0, describe: `${spec.every} from ${windows[0]!.part}` };
        } catch (err) {
          return { ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT', message: (err as Error).message }, usage: IDLE };
        }
      }

      /** The keys from the script's `split.partitions` (checked by the runtime: PartitionKeysSchema). It reads the provider and writes nothing. */
      async function listedParts(runId: string): Promise<Planned> {
        const listing = createRunBridge(deps, { runId, script: script!, connection: connection!, provider: provider!, models: [], syncName: null, variant });
        const result = await executeRun(deps, {
          runId, kind: 'partitions', script: script!, connection: connection!, provider: provider!, bridge: listing, limits,
          lastSyncDate: null, isFullRun: true, checkpoint: null, variant,
        });
        if (!result.ok) return result;
        const keys = result.output as string[];
        const shown = keys.slice(0, 3).map((k) => JSON.stringify(k)).join(', ');
        return { ok: true, parts: keyParts(keys), usage: result.usage, logSeq: result.logs.length, describe: `by key: ${shown}${keys.length > 3 ? ', …' : ''}` };
      }
  }
}
export type SyncRunner = ReturnType<typeof createSyncRunner>;
