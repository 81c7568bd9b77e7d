/**
 * Each part of a pair's split pass as the status API and the dashboard show it: its key and
 * window, where it stands, the records its runs of this pass saved, its retry attempt and its
 * latest run. Reads only; the parts themselves are parts.ts's.
 */
import type { Sql } from '../db/connect.ts';
import type { PartKey } from './parts.ts';

/** failed: a retry is due at next_run_at; given_up: out of retries until the sync's next run; held: its provider is not configured. */
export type PartState = 'pending' | 'held' | 'queued' | 'running' | 'failed' | 'given_up' | 'succeeded';

export interface SplitPartView {
  part: string;
  window_from: Date | null;
  window_to: Date | null;
  state: PartState;
  /** Records saved by its runs in this pass (added + updated + unchanged, over retries). */
  records: number;
  retry_attempt: number;
  next_run_at: Date | null;
  run_id: string | null;
}

export async function splitPassParts(sql: Sql, pair: Omit<PartKey, 'part'>): Promise<SplitPartView[]> {
  // One scan of the pair's runs (runs_history), grouped by part: not one per part.
  return sql<SplitPartView[]>`
    with pass as (
      select pass_started_at from sync_state
      where connection_id = ${pair.connectionId} and sync_name = ${pair.syncName} and variant = ${pair.variant}
    ), saved as (
      select r.part, sum(r.added + r.updated + r.unchanged) as records from runs r, pass
      where r.connection_id = ${pair.connectionId} and r.script_name = ${pair.syncName} and r.variant = ${pair.variant}
        and r.kind = 'sync' and r.part is not null and r.started_at >= pass.pass_started_at
      group by r.part
    )
    select p.part, p.window_from, p.window_to,
      case when p.status = 'failed' and p.next_run_at is null then 'given_up'
           when p.status = 'pending' and p.next_run_at is null then 'held'
           else p.status end as state,
      coalesce(saved.records, 0)::int as records, p.retry_attempt, p.next_run_at, p.run_id::text as run_id
    from sync_parts p left join saved on saved.part = p.part
    where p.connection_id = ${pair.connectionId} and p.sync_name = ${pair.syncName} and p.variant = ${pair.variant}
    order by p.window_from nulls last, p.part`;
}

export interface SplitProgress { parts: number; succeeded: number; running: number; failed: number; given_up: number; held: number }

/**
 * How the pass stands, counted from the same read as its parts, so the counts and the list
 * always agree (two reads could straddle a part settling). Null when the pair has no pass going.
 */
export function splitProgress(items: readonly SplitPartView[]): SplitProgress | null {
  if (items.length === 0) return null;
  const count = (...states: PartState[]) => items.filter((p) => states.includes(p.state)).length;
  return {
    parts: items.length, succeeded: count('succeeded'), running: count('running'),
    failed: count('failed', 'given_up'), given_up: count('given_up'), held: count('held'),
  };
}
