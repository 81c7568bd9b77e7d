/**
 * Asynchronous actions: the API records the call and queues it in one transaction; a worker
 * runs it and stores the outcome on the call's row, which the app polls.
 */
import type { PgBoss } from 'pg-boss';
import type { RunError } from '@ferry/runtime/contract';
import type { Connections } from '../connections/connections.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { named, STATEMENT_NAMES } from '../db/statement-names.ts';
import { isTransientDatabaseError, retryTransient, SETTLE_RETRY_MS } from '../db/transient.ts';
import { RunNotStartedError } from '../sync/run-not-started.ts';
import type { WebhookOutbox } from '../webhooks-out/deliveries.ts';
import type { Logger } from '../logger.ts';
import type { ActionJobRow, ActionJobs } from './action-jobs.ts';
import { ActionLookupError, outcome, type ActionRunner, type ActionTarget } from './action-runner.ts';
import { createJobQueue } from './job-queue.ts';

export const ACTION_QUEUE = 'ferry-action';

interface ActionQueueJob {
  actionJobId: string;
}

export interface ActionQueueDeps {
  boss: PgBoss;
  sql: Sql;
  actionJobs: ActionJobs;
  runner: ActionRunner;
  connections: Connections;
  logger: Logger;
  /** Where action.finished goes, in the transaction that stores the outcome. */
  outbox?: Pick<WebhookOutbox, 'publish'>;
  /** How long a job's worker may go silent before pg-boss fails (and retries) it. */
  jobHeartbeatSeconds?: number;
}

type ActionResult = { ok: true; output: unknown } | { ok: false; error: RunError };

export async function createActionQueue(deps: ActionQueueDeps) {
  const queue = await createJobQueue<ActionQueueJob>(deps.boss, deps.sql, ACTION_QUEUE, deps.logger, {
    // Only a job its worker lost (killed, or whose requeue could not reach the database) is
    // retried: every other host failure is settled, and the claim keeps a retry from running twice.
    retryLimit: 2, ...(deps.jobHeartbeatSeconds !== undefined && { heartbeatSeconds: deps.jobHeartbeatSeconds }),
  });

  /** Stores the outcome and, in the same transaction, tells the app (unless the connection is gone). */
  async function finish(tx: TransactionSql, job: ActionJobRow, connection: ActionTarget['connection'] | null, outcome: ActionResult, from: 'queued' | 'running') {
    if (!(await deps.actionJobs.finish(job.id, outcome, tx, from))) return;
    if (!connection) return;
    await deps.outbox?.publish(tx, job.environment_id, [{
      type: 'action.finished', from: 'ferry', connection_id: connection.connection_id, provider: connection.provider,
      action_name: job.action_name, id: job.id, success: outcome.ok,
      ...(!outcome.ok && { error: { code: outcome.error.code, message: outcome.error.message } }),
    }]);
  }

  /**
   * Reads, then claims the call and writes its run row in one transaction: until that commits,
   * nothing of the call has happened, so a lost database throws RunNotStartedError and the job
   * is queued again. After it, the outcome, the run row and the app's event settle together.
   */
  async function process(actionJobId: string): Promise<void> {
    let started = false;
    try {
      await run(actionJobId, () => { started = true; });
    } catch (err) {
      if (!started && isTransientDatabaseError(err)) throw new RunNotStartedError(err);
      throw err;
    }
  }

  async function run(actionJobId: string, markStarted: () => void): Promise<void> {
    const job = await deps.actionJobs.getById(actionJobId);
    if (!job || job.status !== 'queued') return; // gone, or already taken by another delivery
    const connection = await deps.connections.getById(job.connection_id);
    let target: ActionTarget;
    try {
      if (!connection) throw new ActionLookupError('ACTION_NOT_FOUND', 'the connection was deleted');
      target = await deps.runner.resolve(job.environment_id, job.action_name, connection);
    } catch (err) {
      if (!(err instanceof ActionLookupError)) throw err;
      const failure = { ok: false as const, error: { kind: 'internal' as const, code: err.code, message: err.message } };
      await retryTransient(() => deps.sql.begin((tx) => finish(tx, job, connection, failure, 'queued')));
      return;
    }
    const limits = await deps.runner.limits(target);
    // The run row this delivery's start wrote, known before its commit: a start whose commit went
    // through unseen finds the call claimed with it when tried again, and carries on with it
    // instead of leaving it 'running' for the stale-run sweep to fail.
    let written: string | null = null;
    const started = await retryTransient(() => deps.sql.begin(async (tx) => {
      if (!(await deps.actionJobs.claim(tx, job.id))) {
        return written === null ? null : deps.actionJobs.startedUnseen(tx, job.id, written); // null: taken by another delivery meanwhile
      }
      const row = await deps.runner.start(target, 'async', tx, job.id);
      written = row.id;
      await deps.actionJobs.setRun(tx, job.id, row.id);
      return row;
    }));
    if (!started) return;
    markStarted();
    const result = await deps.runner.perform(target, started.id, job.input, limits);
    // Had the stale sweep failed the run meanwhile, the call reads as that run's failure.
    await retryTransient(() => deps.sql.begin(async (tx) => {
      if (await deps.runner.finish(started.id, result, tx)) await finish(tx, job, target.connection, outcome(started.id, result), 'running');
    }), SETTLE_RETRY_MS);
  }

  return {
    /**
     * Settles the calls of runs failed as lost (their worker died: the stale-run sweep), in the
     * sweep's transaction, the one that failed the runs: each reads failed with its run's error
     * and the app gets its action.finished. The call's row used to stay 'running' (GET
     * /actions/jobs/:id showed the run's failure) and no event was ever sent. A call settled
     * already (a frozen worker woke and finished) is left.
     */
    async settleLost(runIds: string[], tx: TransactionSql): Promise<number> {
      if (runIds.length === 0) return 0;
      const settled = await tx<Array<{ id: string; environment_id: string; action_name: string; connection_id: string; provider: string; error: RunError }>>`
        ${named(tx, STATEMENT_NAMES.lostActionsSettle)} update action_jobs j set status = 'failed', finished_at = coalesce(r.finished_at, now()), error = r.error
        from runs r, connections c
        where j.run_id = r.id and c.id = j.connection_id and r.id in ${tx(runIds)} and j.status = 'running' and r.status = 'failed'
        returning j.id::text as id, j.environment_id::text as environment_id, j.action_name, c.connection_id, c.provider, j.error`;
      for (const job of settled) {
        await deps.outbox?.publish(tx, job.environment_id, [{
          type: 'action.finished', from: 'ferry', connection_id: job.connection_id, provider: job.provider, action_name: job.action_name,
          id: job.id, success: false, error: { code: job.error.code, message: job.error.message },
        }]);
      }
      return settled.length;
    },

    /** Records the call and queues it atomically; returns the call's row. */
    async enqueue(q: { environmentId: string; target: ActionTarget; input: unknown }): Promise<ActionJobRow> {
      return deps.sql.begin(async (tx) => {
        const row = await deps.actionJobs.create(tx, {
          environmentId: q.environmentId, connectionId: q.target.connection.id, actionName: q.target.script.name, input: q.input,
        });
        await queue.send({ actionJobId: row.id }, tx);
        return row;
      });
    },

    work: (concurrency: number) => queue.work(concurrency, (data) => process(data.actionJobId), { requeueWhen: (err) => err instanceof RunNotStartedError }),
    stop: (timeoutMs: number) => queue.stop(timeoutMs),
  };
}
export type ActionQueue = Awaited<ReturnType<typeof createActionQueue>>;
