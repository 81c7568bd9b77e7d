/**
 * Per (connection, sync, variant) state (variants.ts; 'base' unless a variant was added): schedule, pause flags, lastSyncDate, checkpoint, the pass in
 * progress and retries. lastSyncDate moves only in the transaction that finishes a successful run.
 */
import type { Sql, TransactionSql } from '../db/connect.ts';
import { readOne, rowRead, type RowRead } from '../db/read-together.ts';
import type { FinishedRun, StartedRun } from '../runs/runs.ts';
import { nextCronRun, parseSchedule, type Schedule } from './frequency.ts';
import { BASE_VARIANT } from './variants.ts';

export interface SyncStateRow {
  connection_id: string;
  sync_name: string;
  variant: string;
  frequency_ms: string;
  next_run_at: Date;
  paused: boolean;
  last_sync_date: Date | null;
  checkpoint: Record<string, unknown> | null;
  schedule: string | null;
  schedule_override: string | null;
  cron: string | null;
  cron_tz: string | null;
  full_requested: boolean;
  incrementals_since_full: number;
  pass_started_at: Date | null;
  pass_full: boolean;
  pass_since: Date | null;
  pass_tracks_deletes: boolean;
  retry_attempt: number;
  consecutive_failures: number;
}

export interface DueSync {
  connection_id: string;
  sync_name: string;
  variant: string;
  environment_id: string;
  /** The connection's provider (the job carries it: run-sync.ts reads the connection with the rest). */
  provider: string;
  /** When the pair was due (the run's scheduled start). */
  due_at: Date;
}

/** What a pass (fresh start → success, over resumed runs) was started with. */
export interface Pass {
  startedAt: Date;
  full: boolean;
  /** lastSyncDate handed to the script: null = read everything. */
  since: Date | null;
  /** Records not saved in this pass are deleted when it succeeds. */
  tracksDeletes: boolean;
}

type Db = Sql | TransactionSql;

function scheduleColumns(schedule: Schedule) {
  return schedule.kind === 'interval'
    ? { frequencyMs: schedule.ms, cron: null, cronTz: null }
    : { frequencyMs: schedule.periodMs, cron: schedule.expression, cronTz: schedule.timezone };
}

function firstRunAfter(schedule: Schedule, now: Date): Date {
  return schedule.kind === 'interval' ? new Date(now.getTime() + schedule.ms) : nextCronRun(schedule.expression, schedule.timezone, now);
}

/** A pass's success moves the pair's state, when `when` holds. */
function successUpdate(db: Db, connectionId: string, syncName: string, pass: Pass, variant: string, when: ReturnType<Db['unsafe']>) {
  return db`
    update sync_state set last_sync_date = ${pass.startedAt}, checkpoint = null,
      incrementals_since_full = case when ${pass.full} then 0 else incrementals_since_full + 1 end,
      pass_started_at = null, pass_full = false, pass_since = null, pass_tracks_deletes = false,
      retry_attempt = 0, consecutive_failures = 0
    where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant} and ${when}`;
}

export function createSyncState(sql: Sql) {
  /** The pair's state (a run reads it with its other reads: read-together.ts). */
  const stateRead = (connectionId: string, syncName: string, variant = BASE_VARIANT, db: Db = sql): RowRead<SyncStateRow | null> =>
    rowRead(db`select * from sync_state where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`,
      (row) => (row as SyncStateRow | undefined) ?? null);
  const connectionPausedRead = (connectionId: string): RowRead<boolean> =>
    rowRead(sql`select from paused_connections where connection_id = ${connectionId}`, (row) => row !== undefined);

  async function applyEffectiveSchedule(tx: Db, where: { connectionId?: string; environmentId?: string; provider?: string; syncName: string }, text: string, onlyWithoutOverride: boolean) {
    const schedule = parseSchedule(text);
    const cols = scheduleColumns(schedule);
    const next = firstRunAfter(schedule, new Date());
    await tx`
      update sync_state s set frequency_ms = ${cols.frequencyMs}, cron = ${cols.cron}, cron_tz = ${cols.cronTz},
        next_run_at = least(s.next_run_at, ${next})
      from connections c
      where s.connection_id = c.id and s.sync_name = ${where.syncName}
        ${where.connectionId ? tx`and s.connection_id = ${where.connectionId}` : tx``}
        ${where.environmentId ? tx`and c.environment_id = ${where.environmentId}` : tx``}
        ${where.provider ? tx`and c.provider = ${where.provider}` : tx``}
        ${onlyWithoutOverride ? tx`and s.schedule_override is null` : tx``}`;
  }

  return {
    stateRead,

    get(connectionId: string, syncName: string, variant = BASE_VARIANT, db: Db = sql): Promise<SyncStateRow | null> {
      return readOne(stateRead(connectionId, syncName, variant, db));
    },

    /** Every variant of a sync on a connection, 'base' first. */
    async variants(connectionId: string, syncName: string): Promise<SyncStateRow[]> {
      return sql<SyncStateRow[]>`
        select * from sync_state where connection_id = ${connectionId} and sync_name = ${syncName}
        order by variant <> ${BASE_VARIANT}, variant`;
    },

    /**
     * A new variant of a sync the connection has: the sync's schedule (or `frequency` for this
     * variant alone), due now unless the sync does not auto-start. False when it already exists.
     */
    async addVariant(tx: Db, q: { connectionId: string; syncName: string; variant: string; frequency: string | null; autoStart: boolean }): Promise<boolean> {
      const [base] = await tx<SyncStateRow[]>`select * from sync_state where connection_id = ${q.connectionId} and sync_name = ${q.syncName} and variant = ${BASE_VARIANT}`;
      if (!base) throw new Error(`sync ${q.syncName} is not enabled for connection ${q.connectionId}`);
      const schedule = parseSchedule(q.frequency ?? base.schedule ?? `${base.frequency_ms}ms`);
      const cols = scheduleColumns(schedule);
      const rows = await tx`
        insert into sync_state (connection_id, sync_name, variant, frequency_ms, next_run_at, paused, schedule, schedule_override, cron, cron_tz)
        values (${q.connectionId}, ${q.syncName}, ${q.variant}, ${cols.frequencyMs}, ${q.autoStart ? new Date() : firstRunAfter(schedule, new Date())},
          ${!q.autoStart}, ${base.schedule}, ${q.frequency}, ${cols.cron}, ${cols.cronTz})
        on conflict (connection_id, sync_name, variant) do nothing`;
      return rows.count > 0;
    },

    /**
     * Drops a variant's state and its split pass's parts (left behind, they would make the
     * variant's next incarnation skip every run as "a split pass is in progress"); its records
     * are the caller's (removed in the same transaction).
     */
    async removeVariant(tx: Db, connectionId: string, syncName: string, variant: string): Promise<boolean> {
      await tx`delete from sync_parts where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
      const rows = await tx`delete from sync_state where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
      return rows.count > 0;
    },

    /**
     * Makes every connection of `provider` in the environment carry this sync. A new pair is due
     * now (its first run starts at once) unless the sync does not auto-start; a changed schedule
     * applies from the next tick, without a restart (per-connection overrides are kept).
     */
    async ensureForSync(tx: Db, q: { environmentId: string; provider: string; syncName: string; frequencyMs: number; autoStart: boolean }): Promise<void> {
      const [script] = await tx<{ frequency: string | null }[]>`
        select manifest->>'frequency' as frequency from scripts
        where environment_id = ${q.environmentId} and provider = ${q.provider} and name = ${q.syncName} and active`;
      const text = script?.frequency ?? `${q.frequencyMs}ms`;
      await tx`
        insert into sync_state (connection_id, sync_name, frequency_ms, next_run_at, paused, schedule)
        select c.id, ${q.syncName}, ${q.frequencyMs}, now(), ${!q.autoStart}, ${text}
        from connections c where c.environment_id = ${q.environmentId} and c.provider = ${q.provider}
        on conflict (connection_id, sync_name, variant) do update set schedule = excluded.schedule`;
      await applyEffectiveSchedule(tx, { environmentId: q.environmentId, provider: q.provider, syncName: q.syncName }, text, true);
    },

    /** A new connection gets every active sync of its provider, due now. */
    async ensureForConnection(tx: Db, q: { environmentId: string; connectionId: string; provider: string }): Promise<void> {
      const scripts = await tx<{ name: string; frequency: string; frequency_ms: string; auto_start: boolean }[]>`
        select name, manifest->>'frequency' as frequency, manifest->>'frequencyMs' as frequency_ms,
          coalesce((manifest->>'autoStart')::boolean, true) as auto_start
        from scripts
        where environment_id = ${q.environmentId} and provider = ${q.provider} and kind = 'sync' and active`;
      for (const s of scripts) {
        const cols = scheduleColumns(parseSchedule(s.frequency));
        await tx`
          insert into sync_state (connection_id, sync_name, frequency_ms, next_run_at, paused, schedule, cron, cron_tz)
          values (${q.connectionId}, ${s.name}, ${cols.frequencyMs}, now(), ${!s.auto_start}, ${s.frequency}, ${cols.cron}, ${cols.cronTz})
          on conflict (connection_id, sync_name, variant) do nothing`;
      }
    },

    /**
     * The sync is gone from its provider: its connections stop carrying it (another provider's
     * sync of that name stays), and its unfinished split passes' parts go too: left behind, a
     * later deploy of the sync found them with no pass around them and skipped every run of the
     * pair as "a split pass is in progress" for ever. A part still running settles nothing
     * (parts.succeed finds no part row of its own).
     */
    async removeSync(tx: Db, q: { environmentId: string; provider: string; syncName: string }): Promise<void> {
      await tx`
        delete from sync_parts p using connections c
        where p.connection_id = c.id and c.environment_id = ${q.environmentId} and c.provider = ${q.provider} and p.sync_name = ${q.syncName}`;
      await tx`
        delete from sync_state s using connections c
        where s.connection_id = c.id and c.environment_id = ${q.environmentId} and c.provider = ${q.provider} and s.sync_name = ${q.syncName}`;
    },

    /** Per-connection schedule; null goes back to the sync's own. Throws on an invalid schedule. */
    async setScheduleOverride(connectionId: string, syncName: string, text: string | null, variant = BASE_VARIANT): Promise<void> {
      if (text !== null) parseSchedule(text);
      await sql.begin(async (tx) => {
        const [row] = await tx<{ schedule: string | null; frequency_ms: string }[]>`
          update sync_state set schedule_override = ${text} where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}
          returning schedule, frequency_ms`;
        if (!row) return;
        const effective = text ?? row.schedule ?? `${row.frequency_ms}ms`;
        // A new schedule replaces the old next run outright (it may be later than before).
        const schedule = parseSchedule(effective);
        const cols = scheduleColumns(schedule);
        await tx`
          update sync_state set frequency_ms = ${cols.frequencyMs}, cron = ${cols.cron}, cron_tz = ${cols.cronTz},
            next_run_at = ${firstRunAfter(schedule, new Date())}
          where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
      });
    },

    async setPaused(connectionId: string, syncName: string, paused: boolean, variant = BASE_VARIANT): Promise<boolean> {
      const rows = await sql`update sync_state set paused = ${paused} where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
      return rows.count > 0;
    },

    async setConnectionPaused(connectionId: string, paused: boolean): Promise<void> {
      if (paused) await sql`insert into paused_connections (connection_id) values (${connectionId}) on conflict do nothing`;
      else await sql`delete from paused_connections where connection_id = ${connectionId}`;
    },

    connectionPausedRead,

    isConnectionPaused(connectionId: string): Promise<boolean> {
      return readOne(connectionPausedRead(connectionId));
    },

    /** "full run": remembered on the state, so a job already queued without it still runs full. */
    async requestFull(connectionId: string, syncName: string, variant = BASE_VARIANT): Promise<void> {
      await sql`update sync_state set full_requested = true where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
    },

    /**
     * Starts a fresh pass, clearing the old checkpoint and any seen ids of an abandoned full pass
     * (in the run's fenced transaction: a run that lost the pair must not reset its state).
     */
    async beginPass(tx: TransactionSql, connectionId: string, syncName: string, pass: Pass, variant: string, storedModels: readonly string[]): Promise<void> {
      await tx`
        update sync_state set pass_started_at = ${pass.startedAt}, pass_full = ${pass.full}, pass_since = ${pass.since},
          pass_tracks_deletes = ${pass.tracksDeletes}, full_requested = false, checkpoint = null
        where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
      // Only this variant's seen ids: another variant's pass may be open.
      await tx`delete from sync_seen where connection_id = ${connectionId} and sync_name = ${syncName} and model = any(${storedModels as string[]}::text[])`;
    },

    /**
     * beginPass as statements for a run's start (host/runs/runs.ts: `alongside`): the pass begins
     * at the new run's started_at, and only if the run row was written.
     */
    beginPassOnStart(db: Db, connectionId: string, syncName: string, pass: Omit<Pass, 'startedAt'>, variant: string, storedModels: readonly string[], run: StartedRun) {
      return [
        db`
          update sync_state set pass_started_at = ${run.startedAt}, pass_full = ${pass.full}, pass_since = ${pass.since},
            pass_tracks_deletes = ${pass.tracksDeletes}, full_requested = false, checkpoint = null
          where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant} and ${run.exists}`,
        db`delete from sync_seen where connection_id = ${connectionId} and sync_name = ${syncName} and model = any(${storedModels as string[]}::text[]) and ${run.exists}`,
      ];
    },

    /** In the transaction that finishes a successful run: the only place lastSyncDate moves. */
    async recordSuccess(tx: TransactionSql, connectionId: string, syncName: string, pass: Pass, variant: string): Promise<void> {
      await successUpdate(tx, connectionId, syncName, pass, variant, tx`true`);
    },

    /** recordSuccess as a statement of the run's finish (host/runs/runs.ts: `alongside`): only if the finish settled the run. */
    recordSuccessOnFinish(db: Db, connectionId: string, syncName: string, pass: Pass, variant: string, run: FinishedRun) {
      return successUpdate(db, connectionId, syncName, pass, variant, run.exists);
    },

    /** A failed run: state stays; a retry (if any) brings the next run forward. */
    async recordFailure(connectionId: string, syncName: string, variant: string, retry: { delayMs: number; countsAsAttempt: boolean } | null, tx: Db = sql): Promise<void> {
      if (retry === null) {
        await tx`
          update sync_state set consecutive_failures = consecutive_failures + 1, retry_attempt = 0
          where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
        return;
      }
      await tx`
        update sync_state set consecutive_failures = consecutive_failures + 1,
          retry_attempt = retry_attempt + ${retry.countsAsAttempt ? 1 : 0},
          next_run_at = now() + ${retry.delayMs} * interval '1 millisecond'
        where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
    },

    async saveCheckpoint(connectionId: string, syncName: string, variant: string, checkpoint: Record<string, unknown> | null, tx: Db = sql): Promise<void> {
      await tx`
        update sync_state set checkpoint = ${checkpoint === null ? null : JSON.stringify(checkpoint)}::text::jsonb
        where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
    },

    /**
     * Claims the pairs that are due and moves their next run on, in the caller's transaction (so
     * the enqueue that follows commits with it). SKIP LOCKED lets several workers tick at once
     * without claiming a pair twice. Oldest first, so a backlog drains in order. A pair whose
     * connection needs re-authorisation is passed over (every run would fail): its next run
     * moves on as if it had run, and it is marked waiting_reauth, so resumeAfterReauth makes it
     * due at once when new credentials arrive. It is not left due: thousands of such pairs at the
     * head of the due index would be scanned on every tick.
     */
    async claimDue(tx: TransactionSql, limit: number): Promise<DueSync[]> {
      const rows = await tx<(DueSync & { cron: string | null; cron_tz: string | null; waits: boolean })[]>`
        with due as (
          select s.connection_id, s.sync_name, s.variant, s.next_run_at from sync_state s
          where not s.paused and s.next_run_at <= now()
            and not exists (select 1 from paused_connections p where p.connection_id = s.connection_id)
          order by s.next_run_at limit ${limit}
          for update of s skip locked
        )
        update sync_state s
          set next_run_at = greatest(s.next_run_at + s.frequency_ms * interval '1 millisecond', now()),
            waiting_reauth = c.auth_status = 'reauth_required'
        from due, connections c
        where s.connection_id = due.connection_id and s.sync_name = due.sync_name and s.variant = due.variant and c.id = s.connection_id
        returning s.connection_id, s.sync_name, s.variant, c.environment_id, c.provider, due.next_run_at as due_at, s.cron, s.cron_tz,
          s.waiting_reauth as waits`;
      const now = new Date();
      const cronRows = rows.filter((r) => r.cron !== null);
      if (cronRows.length > 0) {
        const fixes = cronRows.map((r) => ({ c: r.connection_id, s: r.sync_name, v: r.variant, n: nextCronRun(r.cron!, r.cron_tz, now).toISOString() }));
        await tx`
          update sync_state s set next_run_at = (f->>'n')::timestamptz
          from jsonb_array_elements(${JSON.stringify(fixes)}::text::jsonb) f
          where s.connection_id = (f->>'c')::bigint and s.sync_name = f->>'s' and s.variant = f->>'v'`;
      }
      return rows.filter((r) => !r.waits).map(({ connection_id, sync_name, variant, environment_id, provider, due_at }) => ({ connection_id, sync_name, variant, environment_id, provider, due_at }));
    },

    /** A run of the pair queued before its connection needed re-authorisation, skipped: resumeAfterReauth runs it at once. */
    async markWaitingReauth(connectionId: string, syncName: string, variant: string): Promise<void> {
      await sql`update sync_state set waiting_reauth = true where connection_id = ${connectionId} and sync_name = ${syncName} and variant = ${variant}`;
    },

    /**
     * New credentials for a connection (PATCH, a reconnect): the pairs the scheduler passed over
     * while it needed re-authorisation are due now, and its held split parts too (a part held
     * for a missing provider is held again by its next run). Harmless when nothing waits.
     */
    async resumeAfterReauth(tx: Db, connectionId: string): Promise<void> {
      await tx`
        update sync_state set next_run_at = least(next_run_at, now()), waiting_reauth = false
        where connection_id = ${connectionId} and waiting_reauth`;
      await tx`update sync_parts set next_run_at = now() where connection_id = ${connectionId} and status = 'pending' and next_run_at is null`;
    },
  };
}
export type SyncState = ReturnType<typeof createSyncState>;
