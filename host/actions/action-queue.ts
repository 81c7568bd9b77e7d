/**
 * Asynchronous actions: the API records the call and queues it in one transaction; a worker
 * runs it and stores the outcome on the call's row, which the app polls.
 */
import type { PgBoss } from 'pg-boss';
import type { RunError } from '@ferry/runtime/contract';
import type { Connections } from '../connections/connections.ts';
import type { Sql } from '../db/connect.ts';
import type { WebhookOutbox } from '../webhooks-out/deliveries.ts';
import type { Logger } from '../logger.ts';
import type { ActionJobRow, ActionJobs } from './action-jobs.ts';
import { ActionLookupError, type ActionRunner, type ActionTarget } from './action-runner.ts';
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
}

export async function createActionQueue(deps: ActionQueueDeps) {
  const queue = await createJobQueue<ActionQueueJob>(deps.boss, ACTION_QUEUE, deps.logger);

  /** Stores the outcome and, in the same transaction, tells the app (unless the connection is gone). */
  async function finish(job: ActionJobRow, connection: ActionTarget['connection'] | null, outcome: { ok: true; output: unknown } | { ok: false; error: RunError }) {
    await deps.sql.begin(async (tx) => {
      await deps.actionJobs.finish(job.id, outcome, tx);
      if (!connection) return;
      await deps.outbox?.publish(tx, job.environment_id, [{
        type: 'action.finished', from: 'ferry', connection_id: connection.connection_id, provider: connection.provider,
        action_name: job.action_name, id: job.id, success: outcome.ok,
        ...(!outcome.ok && { error: { code: outcome.error.code, message: outcome.error.message } }),
      }]);
    });
  }

  async function process(actionJobId: string): Promise<void> {
    const job = await deps.actionJobs.getById(actionJobId);
    if (!job || !(await deps.actionJobs.claim(job.id))) return; // gone, or already taken by another delivery
    const connection = await deps.connections.getById(job.connection_id);
    let target: ActionTarget;
    try {
      if (!connection) throw new ActionLookupError('ACTION_NOT_FOUND', 'the connection was deleted');
      target = await deps.runner.resolve(job.environment_id, job.action_name, connection);
    } catch (err) {
      if (!(err instanceof ActionLookupError)) throw err;
      await finish(job, connection, { ok: false, error: { kind: 'internal', code: err.code, message: err.message } });
      return;
    }
    const outcome = await deps.runner.execute(target, job.input, {
      trigger: 'async',
      onRunStarted: (runId) => deps.actionJobs.setRun(job.id, runId),
    });
    await finish(job, target.connection, outcome);
  }

  return {
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

    work: (concurrency: number) => queue.work(concurrency, (data) => process(data.actionJobId)),
  };
}
export type ActionQueue = Awaited<ReturnType<typeof createActionQueue>>;
