/**
 * After a tick claims due pairs, each interval pair's next run moves onto its own phase within
 * its period (frequency.ts: nextIntervalRun). Without it, pairs created together (2,000
 * connections imported at once, a sync deployed to every connection) stay due in the same
 * second forever, and their start lag is the time to drain that burst. Cron pairs keep their
 * exact wall-clock times.
 */
import type { TransactionSql } from '../db/connect.ts';
import { nextIntervalRun } from '../sync/frequency.ts';
import type { DueSync } from '../sync/sync-state.ts';
import { BASE_VARIANT } from '../sync/variants.ts';

/** A (connection, sync, variant)'s key; the base variant's is the one it had before variants. */
export function pairKey(connectionId: string, syncName: string, variant: string = BASE_VARIANT): string {
  return variant === BASE_VARIANT ? `${connectionId}:${syncName}` : `${connectionId}:${syncName}:${variant}`;
}

/** In the claiming transaction: sets next_run_at of the claimed interval pairs to their phased slot. */
export async function spreadNextRuns(tx: TransactionSql, due: DueSync[], now = new Date()): Promise<void> {
  if (due.length === 0) return;
  const keys = JSON.stringify(due.map((d) => ({ c: String(d.connection_id), s: d.sync_name, v: d.variant, d: d.due_at.getTime() })));
  const rows = await tx<{ c: string; s: string; v: string; d: string; frequency_ms: string }[]>`
    select f->>'c' as c, f->>'s' as s, f->>'v' as v, f->>'d' as d, st.frequency_ms::text as frequency_ms
    from jsonb_array_elements(${keys}::text::jsonb) f
    join sync_state st on st.connection_id = (f->>'c')::bigint and st.sync_name = f->>'s' and st.variant = f->>'v'
    where st.cron is null`;
  if (rows.length === 0) return;
  const fixes = rows.map((r) => ({
    c: r.c, s: r.s, v: r.v,
    n: new Date(nextIntervalRun(pairKey(r.c, r.s, r.v), Number(r.frequency_ms), Number(r.d), now.getTime())).toISOString(),
  }));
  await tx`
    update sync_state s set next_run_at = (f->>'n')::timestamptz
    from jsonb_array_elements(${JSON.stringify(fixes)}::text::jsonb) f
    where s.connection_id = (f->>'c')::bigint and s.sync_name = f->>'s' and s.variant = f->>'v'`;
}
