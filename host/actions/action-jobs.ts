/** Asynchronous action calls (action_jobs): queued by the API, settled by a worker, polled by the app. */
import type { RunError } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { named, STATEMENT_NAMES } from '../db/statement-names.ts';
import type { RunRow } from '../runs/runs.ts';

export type ActionJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ActionJobRow {
  id: string;
  environment_id: string;
  connection_id: string;
  action_name: string;
  input: unknown;
  status: ActionJobStatus;
  run_id: string | null;
  output: unknown;
  error: RunError | null;
  created_at: Date;
  finished_at: Date | null;
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

export function createActionJobs(sql: Sql) {
  return {
    async create(tx: TransactionSql, q: { environmentId: string; connectionId: string; actionName: string; input: unknown }): Promise<ActionJobRow> {
      const [row] = await tx<ActionJobRow[]>`
        insert into action_jobs (environment_id, connection_id, action_name, input)
        values (${q.environmentId}, ${q.connectionId}, ${q.actionName}, ${json(q.input)}::text::jsonb)
        returning *`;
      return row!;
    },

    /**
     * Scoped to the environment: another environment's job id is not found. A job whose run was
     * failed by the stale-run sweep (its worker died) reads as failed with that run's error.
     */
    async get(environmentId: string, id: string): Promise<ActionJobRow | null> {
      const [row] = await sql<ActionJobRow[]>`
        select j.id, j.environment_id, j.connection_id, j.action_name, j.input, j.run_id, j.output, j.created_at,
          case when j.status = 'running' and r.status = 'failed' then 'failed' else j.status end as status,
          case when j.status = 'running' and r.status = 'failed' then r.error else j.error end as error,
          case when j.status = 'running' and r.status = 'failed' then r.finished_at else j.finished_at end as finished_at
        from action_jobs j left join runs r on r.id = j.run_id
        where j.id = ${id} and j.environment_id = ${environmentId}`;
      return row ?? null;
    },

    async getById(id: string): Promise<ActionJobRow | null> {
      const [row] = await sql<ActionJobRow[]>`select * from action_jobs where id = ${id}`;
      return row ?? null;
    },

    /**
     * Claims a queued job for the run written in the same transaction; false when another
     * delivery of it already did. Claim and run row commit together: a start that loses the
     * database leaves the call queued, to be run by the job's requeue.
     */
    async claim(tx: TransactionSql, id: string): Promise<boolean> {
      const rows = await tx`${named(tx, STATEMENT_NAMES.actionClaim)} update action_jobs set status = 'running' where id = ${id} and status = 'queued'`;
      return rows.count > 0;
    },

    /**
     * The run `runId` of a call whose start (claim and run row) committed unseen, still running: the
     * start, tried again, finds the call claimed with the run it wrote itself and carries on with
     * it. Run ids are never reused, so a start that rolled back matches nothing.
     */
    async startedUnseen(tx: TransactionSql, id: string, runId: string): Promise<RunRow | null> {
      const [row] = await tx<RunRow[]>`
        select r.* from action_jobs j join runs r on r.id = j.run_id
        where j.id = ${id} and j.status = 'running' and j.run_id = ${runId} and r.status = 'running'
        for update of r`;
      return row ?? null;
    },

    async setRun(tx: TransactionSql, id: string, runId: string): Promise<void> {
      await tx`update action_jobs set run_id = ${runId} where id = ${id}`;
    },

    /**
     * Stores the outcome of a call that is `from` (running; queued for one that could not start,
     * such as an action no longer deployed); false when it was not (settled already).
     */
    async finish(id: string, outcome: { ok: true; output: unknown } | { ok: false; error: RunError }, tx: Sql | TransactionSql = sql, from: 'queued' | 'running' = 'running'): Promise<boolean> {
      const rows = await tx`
        update action_jobs set status = ${outcome.ok ? 'succeeded' : 'failed'}, finished_at = now(),
          output = ${outcome.ok ? json(outcome.output) : null}::text::jsonb,
          error = ${outcome.ok ? null : JSON.stringify(outcome.error)}::text::jsonb
        where id = ${id} and status = ${from}`;
      return rows.count > 0;
    },
  };
}
export type ActionJobs = ReturnType<typeof createActionJobs>;
