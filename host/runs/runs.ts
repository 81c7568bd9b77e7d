/** Run rows (one per execution of a sync or action) and their logs. */
import type { LogEntry, RunError, Usage } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { named, STATEMENT_NAMES } from '../db/statement-names.ts';

export type RunStatus = 'running' | 'succeeded' | 'failed';

/** Something a run that still succeeded wants a human to see (API, `ferry runs`, app webhook). */
export interface RunWarning {
  code: 'DELETES_HELD';
  model: string;
  message: string;
  held: number;
  live: number;
}

export interface RunRow {
  id: string;
  connection_id: string;
  script_name: string;
  /** A sync run's variant (host/sync/variants.ts); 'base' for every other run. */
  variant: string;
  /** A part of a split pass (host/sync/parts.ts); null for every other run. */
  part: string | null;
  kind: 'sync' | 'action' | 'webhook';
  script_version: number;
  status: RunStatus;
  trigger: string;
  is_full: boolean;
  started_at: Date;
  finished_at: Date | null;
  added: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  wall_ms: number | null;
  cpu_ms: number | null;
  peak_heap_bytes: string | null;
  bridge_bytes: string | null;
  proxy_calls: number | null;
  error: RunError | null;
  job_id: string | null;
  scheduled_for: Date | null;
  resumed: boolean;
  checkpoint_advanced: boolean;
  warnings: RunWarning[] | null;
  /** A settled sync run's changes per declared model; null before it settled, and for actions. */
  model_counts: Record<string, { added: number; updated: number; deleted: number }> | null;
  fetch_since: Date | null;
  fetch_checkpoint: Record<string, unknown> | null;
  memory_limit_mb: number | null;
}

export interface RejectedRecord {
  seq: string;
  model: string;
  record_id: string | null;
  reason: string;
  rejected_at: Date;
}

export interface StartRun {
  connectionId: string;
  scriptName: string;
  /** Default 'base'. */
  variant?: string;
  part?: string | null;
  kind: 'sync' | 'action' | 'webhook';
  scriptVersion: number;
  trigger: string;
  isFull: boolean;
  /** The pg-boss job that carries the run, so a dead run's job can be settled. */
  jobId?: string | null;
  scheduledFor?: Date | null;
  resumed?: boolean;
  /** A sync run's fetch window: the lastSyncDate and checkpoint it starts from. */
  fetchSince?: Date | null;
  fetchCheckpoint?: Record<string, unknown> | null;
  memoryLimitMb?: number | null;
}

type Fragment = ReturnType<Sql['unsafe']>;

/** A run the stale-run sweep failed: what settling it needs. */
export interface StaleRun {
  id: string;
  job_id: string | null;
  connection_id: string;
  script_name: string;
  variant: string;
  part: string | null;
  kind: string;
}

/** The row a start is inserting, as its `alongside` statements may refer to it. */
export interface StartedRun {
  /** The new run's started_at. */
  startedAt: Fragment;
  /** True when the row was inserted. */
  exists: Fragment;
}

/** The run a finish is settling, as its `alongside` statements may refer to it. */
export interface FinishedRun {
  /** True when the run was still running, and is now settled by this finish. */
  exists: Fragment;
}

/**
 * `statement` as the CTE `name` with `also` beside it, in one statement that then selects
 * `select`: writes that belong together, in one round trip and one commit (or one statement of
 * the caller's transaction).
 */
function withAlongside(tx: Sql | TransactionSql, name: string, statement: Fragment, also: Fragment[], select: Fragment): Fragment {
  return tx`
    with ${tx(name)} as (${statement})
    ${also.map((alongside, i) => tx`, ${tx(`alongside_${i}`)} as (${alongside})`)}
    ${select}`;
}

export function createRuns(sql: Sql) {
  return {
    /**
     * Inserts a running row; null when this (connection, sync, variant, part) already has a running
     * run (the unique index runs_one_running). ON CONFLICT rather than a caught unique violation,
     * so the caller's transaction is not aborted by the refusal. `alongside` are writes that
     * belong with the start (a sync run's beginning of its pass): they run in the same statement,
     * so the start is one round trip and one commit, and they see the new row through `started`
     * (no row, when the insert was refused: they must then change nothing).
     */
    async start(input: StartRun, tx: Sql | TransactionSql = sql, alongside?: (started: StartedRun) => Fragment[]): Promise<RunRow | null> {
      const insert = tx`
        ${named(tx, STATEMENT_NAMES.runStart)} insert into runs (connection_id, script_name, variant, part, kind, script_version, status, trigger, is_full, job_id, scheduled_for, resumed,
          fetch_since, fetch_checkpoint, memory_limit_mb)
        values (${input.connectionId}, ${input.scriptName}, ${input.variant ?? 'base'}, ${input.part ?? null}, ${input.kind}, ${input.scriptVersion}, 'running', ${input.trigger}, ${input.isFull},
          ${input.jobId ?? null}, ${input.scheduledFor ?? null}, ${input.resumed ?? false},
          ${input.fetchSince ?? null}, ${input.fetchCheckpoint ? JSON.stringify(input.fetchCheckpoint) : null}::text::jsonb, ${input.memoryLimitMb ?? null})
        on conflict do nothing
        returning *`;
      if (!alongside) {
        const [row] = await (insert as unknown as Promise<RunRow[]>);
        return row ?? null;
      }
      const also = alongside({ startedAt: tx`(select started_at from started_run)`, exists: tx`exists (select 1 from started_run)` });
      const [row] = (await withAlongside(tx, 'started_run', insert, also, tx`select * from started_run`)) as unknown as RunRow[];
      return row ?? null;
    },

    /**
     * The running sync run this job's own start already wrote: a start whose commit went
     * through unseen (the connection dropped before the answer) and was tried again, which the
     * unique index then refused. Only the process holding the job starts a run for it (job ids are
     * never reused: a re-sent job gets a new one), so the row is this start's to carry on.
     */
    async startedUnseen(tx: TransactionSql, jobId: string): Promise<RunRow | null> {
      const [row] = await tx<RunRow[]>`select * from runs where job_id = ${jobId} and kind = 'sync' and status = 'running' for update`;
      return row ?? null;
    },

    async heartbeat(runId: string): Promise<void> {
      await sql`update runs set heartbeat_at = now() where id = ${runId} and status = 'running'`;
    },

    /**
     * Finishes a run; `tx` lets the caller move sync state in the same transaction. Only a running
     * run is finished, and its row stays locked to the end of `tx`: the finish is itself a fence
     * (run-fence.ts). `alongside` are writes that belong with it (a sync's success moving its
     * state): they run in the same statement and see through `finished` whether it finished the
     * run (if not, they must change nothing).
     */
    async finish(
      runId: string,
      outcome: { status: 'succeeded' | 'failed'; usage: Usage; error?: RunError; warnings?: readonly RunWarning[]; modelCounts?: ReadonlyMap<string, { added: number; updated: number; deleted: number }> },
      tx: Sql | TransactionSql = sql,
      alongside?: (finished: FinishedRun) => Fragment[],
    ): Promise<boolean> {
      const u = outcome.usage;
      const update = tx`
        update runs set status = ${outcome.status}, finished_at = now(),
          wall_ms = ${Math.round(u.wallMs)}, cpu_ms = ${Math.round(u.cpuMs)}, peak_heap_bytes = ${Math.round(u.peakHeapBytes)},
          bridge_bytes = ${Math.round(u.bridgeBytes)}, proxy_calls = ${u.proxyCalls},
          error = ${outcome.error ? JSON.stringify(outcome.error) : null}::text::jsonb,
          warnings = ${outcome.warnings?.length ? JSON.stringify(outcome.warnings) : null}::text::jsonb,
          model_counts = ${outcome.modelCounts ? JSON.stringify(Object.fromEntries(outcome.modelCounts)) : null}::text::jsonb
        where id = ${runId} and status = 'running'`;
      // false: the run was already settled (failed as stale while its process was stalled).
      if (!alongside) return (await update).count > 0;
      const also = alongside({ exists: tx`exists (select 1 from finished_run)` });
      const [row] = (await withAlongside(tx, 'finished_run', tx`${update} returning 1`, also, tx`select count(*)::int as n from finished_run`)) as unknown as Array<{ n: number }>;
      return row!.n > 0;
    },

    async get(runId: string): Promise<RunRow | null> {
      const [row] = await sql<RunRow[]>`select * from runs where id = ${runId}`;
      return row ?? null;
    },

    async list(q: { connectionId: string; scriptName?: string | undefined; variant?: string | undefined; limit: number; beforeId?: string | undefined }): Promise<RunRow[]> {
      return sql<RunRow[]>`
        select * from runs
        where connection_id = ${q.connectionId}
          ${q.scriptName ? sql`and script_name = ${q.scriptName}` : sql``}
          ${q.variant ? sql`and variant = ${q.variant}` : sql``}
          ${q.beforeId ? sql`and id < ${q.beforeId}` : sql``}
        order by id desc limit ${q.limit}`;
    },

    async appendLogs(runId: string, firstSeq: number, entries: LogEntry[], tx: Sql | TransactionSql = sql): Promise<void> {
      if (entries.length === 0) return;
      const rows = entries.map((e, i) => ({ run_id: runId, seq: firstSeq + i, level: e.level, message: e.message, at: new Date(e.at) }));
      await tx`insert into run_logs ${sql(rows, 'run_id', 'seq', 'level', 'message', 'at')} on conflict do nothing`;
    },

    async logs(runId: string, afterSeq: number, limit: number): Promise<Array<LogEntry & { seq: number }>> {
      return sql<Array<LogEntry & { seq: number }>>`
        select seq, level, message, at from run_logs where run_id = ${runId} and seq > ${afterSeq} order by seq limit ${limit}`;
    },

    /** Records the run's writes refused (schema, missing id), with the reason, in order. */
    async rejected(runId: string, afterSeq: string, limit: number): Promise<RejectedRecord[]> {
      return sql<RejectedRecord[]>`
        select seq::text as seq, model, record_id, reason, rejected_at from rejected_records
        where run_id = ${runId} and seq > ${afterSeq} order by seq limit ${limit}`;
    },

    /** Whether any run is past the stale limit: one read, so a tick with none (nearly every one) opens no transaction. */
    async anyStale(staleAfterMs: number): Promise<boolean> {
      const rows = await sql`select from runs where status = 'running' and heartbeat_at < now() - ${staleAfterMs} * interval '1 millisecond' limit 1`;
      return rows.length > 0;
    },

    /**
     * Runs whose process stopped heartbeating (a host killed mid-run) are failed, so a
     * (connection, sync) is never stuck "running" and its next run can start. In the caller's
     * transaction, with what settles each (host/sync/scheduler.ts). A row locked by someone else
     * is skipped, not waited for: its run is writing (a fenced write holds it to its commit, with a
     * fresh heartbeat) or another sweep has it.
     */
    async failStale(staleAfterMs: number, tx: Sql | TransactionSql = sql): Promise<StaleRun[]> {
      return tx<StaleRun[]>`
        update runs set status = 'failed', finished_at = now(),
          error = ${JSON.stringify({ kind: 'internal', code: 'WORKER_LOST', message: `no heartbeat for ${staleAfterMs} ms: the process running it died` })}::text::jsonb
        where id in (
          select id from runs where status = 'running' and heartbeat_at < now() - ${staleAfterMs} * interval '1 millisecond'
          for update skip locked)
        returning id, job_id, connection_id, script_name, variant, part, kind`;
    },
  };
}
export type Runs = ReturnType<typeof createRuns>;
