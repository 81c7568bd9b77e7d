/**
 * What `GET /syncs/:name/status` reports for a (connection, sync, variant): where it stands, how its
 * runs went over a window, and the two ways it can be unhealthy without failing loudly:
 * "stuck" (runs that resume from a checkpoint keep failing without moving it) and records
 * rejected by every recent run.
 */
import type { Sql } from '../db/connect.ts';

/** This many failed resumed runs in a row, none advancing the checkpoint, is "stuck". */
export const STUCK_AFTER_RUNS = 3;
/** A record rejected in each of this many latest runs is reported as failing every run. */
export const PERSISTENT_REJECTION_RUNS = 3;

export interface SyncHealth {
  stuck: boolean;
  window_hours: number;
  runs_in_window: number;
  success_rate: number | null;
  avg_duration_ms: number | null;
  persistent_rejections: Array<{ model: string; record_id: string | null; reason: string }>;
}

export async function syncHealth(sql: Sql, connectionId: string, syncName: string, variant: string, windowHours: number): Promise<SyncHealth> {
  const recent = await sql<{ id: string; status: string; resumed: boolean; checkpoint_advanced: boolean }[]>`
    select id, status, resumed, checkpoint_advanced from runs
    where connection_id = ${connectionId} and script_name = ${syncName} and variant = ${variant} and kind = 'sync' and status <> 'running'
    order by id desc limit ${Math.max(STUCK_AFTER_RUNS, PERSISTENT_REJECTION_RUNS)}`;
  const lastStuckWindow = recent.slice(0, STUCK_AFTER_RUNS);
  const stuck = lastStuckWindow.length === STUCK_AFTER_RUNS && lastStuckWindow.every((r) => r.status === 'failed' && r.resumed && !r.checkpoint_advanced);

  const [stats] = await sql<{ n: number; ok: number; avg_ms: number | null }[]>`
    select count(*)::int as n, count(*) filter (where status = 'succeeded')::int as ok, avg(wall_ms)::float8 as avg_ms
    from runs
    where connection_id = ${connectionId} and script_name = ${syncName} and variant = ${variant} and kind = 'sync' and status <> 'running'
      and started_at > now() - ${windowHours} * interval '1 hour'`;

  const rejectionRuns = recent.slice(0, PERSISTENT_REJECTION_RUNS).map((r) => r.id);
  const persistent = rejectionRuns.length < PERSISTENT_REJECTION_RUNS ? [] : await sql<{ model: string; record_id: string | null; reason: string }[]>`
    select model, record_id, (array_agg(reason order by seq desc))[1] as reason
    from rejected_records
    where run_id = any(${rejectionRuns}::bigint[]) and record_id is not null
    group by model, record_id
    having count(distinct run_id) = ${PERSISTENT_REJECTION_RUNS}
    order by model, record_id limit 100`;

  return {
    stuck,
    window_hours: windowHours,
    runs_in_window: stats?.n ?? 0,
    success_rate: stats && stats.n > 0 ? stats.ok / stats.n : null,
    avg_duration_ms: stats?.avg_ms == null ? null : Math.round(stats.avg_ms),
    persistent_rejections: persistent,
  };
}
