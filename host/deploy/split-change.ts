/**
 * A deploy that changes how a sync splits its full pass (time ↔ keys, another time window plan,
 * or another `split.partitions`) must not let the unfinished pass go on with the old parts: the
 * new version would read them with a definition that no longer made them, mixing two splits in
 * one pass. In the deploy's transaction the pass is restarted instead: its parts go, its running
 * part runs are failed (so their next write is fenced and they settle nothing), and the pair asks
 * for a fresh full pass, due now, which splits by the new definition.
 */
import type { TransactionSql } from '../db/connect.ts';
import type { StoredManifest } from './scripts.ts';

type Split = Extract<StoredManifest, { type: 'sync' }>['split'];

/**
 * Whether a new version splits differently. A key split's definition is its `partitions`
 * function, which stays in the bundle: a changed bundle may list other keys, so it counts as a
 * change (a restart costs a pass's progress; mixed parts cost correctness).
 */
export function splitChanged(before: { split?: Split | undefined; hash: string }, after: { split?: Split | undefined; hash: string }): boolean {
  if (!before.split && !after.split) return false;
  if (JSON.stringify(before.split ?? null) !== JSON.stringify(after.split ?? null)) return true;
  return after.split?.by === 'keys' && before.hash !== after.hash;
}

const SPLIT_CHANGED = JSON.stringify({ kind: 'internal', code: 'SPLIT_CHANGED', message: 'a deploy changed how this sync splits its pass: the pass restarts with the new parts' });

/** Restarts every unfinished split pass of the sync in the environment; how many pairs restarted. */
export async function restartSplitPasses(tx: TransactionSql, target: { environmentId: string; provider: string; syncName: string }): Promise<number> {
  const pairs = await tx<{ connection_id: string; variant: string }[]>`
    delete from sync_parts p using connections c
    where p.connection_id = c.id and c.environment_id = ${target.environmentId} and c.provider = ${target.provider} and p.sync_name = ${target.syncName}
    returning p.connection_id, p.variant`;
  if (pairs.length === 0) return 0;
  const connectionIds = [...new Set(pairs.map((p) => p.connection_id))];
  await tx`
    update runs set status = 'failed', finished_at = now(), error = ${SPLIT_CHANGED}::text::jsonb
    where status = 'running' and part is not null and script_name = ${target.syncName} and connection_id = any(${connectionIds}::bigint[])`;
  const variants = [...new Set(pairs.map((p) => `${p.connection_id}\u0000${p.variant}`))].map((k) => k.split('\u0000') as [string, string]);
  await tx`
    update sync_state s set pass_started_at = null, pass_full = false, pass_since = null, pass_tracks_deletes = false,
      checkpoint = null, full_requested = true, next_run_at = now()
    from unnest(${variants.map((v) => v[0])}::bigint[], ${variants.map((v) => v[1])}::text[]) as r(connection_id, variant)
    where s.connection_id = r.connection_id and s.sync_name = ${target.syncName} and s.variant = r.variant`;
  return variants.length;
}
