/**
 * Delete detection: which records a walk saw, and marking the ones it did not see as deleted.
 *
 * A hash-unchanged record is not rewritten (records-save.ts), so "seen by this walk" cannot be
 * read from `records`; a walk that detects deletes (a full-refresh pass, or a
 * trackDeletesStart/End window) writes the ids of each batch to `sync_seen` in the batch's own
 * transaction. Marking unseen records takes the model's advisory lock (it moves cursors) and
 * runs in the caller's transaction, so deletes commit with the run's state change or not at all.
 */
import type { TransactionSql } from '../db/connect.ts';
import { lockRecordModel } from './records.ts';

export type SeenScope = 'full' | 'track';

export interface SeenTarget {
  connectionId: string;
  syncName: string;
  scope: SeenScope;
  model: string;
}

const UNPREPARED = { prepare: false } as const;

/** $1 connection, $2 sync, $3 scope, $4 model, $5 JSON array of ids. */
const RECORD_SEEN = `
insert into sync_seen (connection_id, sync_name, scope, model, id)
select $1, $2, $3, $4, x from jsonb_array_elements_text($5::text::jsonb) as t(x)
on conflict do nothing`;

/** $1 connection, $2 sync, $3 scope, $4 model, $5 run id. Only live records are deleted. */
const MARK_UNSEEN_DELETED = `
with moved as (
  update records r
  set deleted_at = now(), updated_at = now(), last_action = 'deleted',
      cursor = nextval('records_cursor_seq'), last_run_id = $5
  where r.connection_id = $1 and r.model = $4 and r.deleted_at is null
    -- A correlated probe, not NOT EXISTS: planned before ANALYZE (1-row estimates), the anti
    -- join probed sync_seen by its key prefix and filtered on id, quadratic in the model's size
    -- (47 s for 20k records). This form always probes the primary key with the id.
    and (select 1 from sync_seen s
         where s.connection_id = $1 and s.sync_name = $2 and s.scope = $3 and s.model = $4 and s.id = r.id) is null
  returning 1
)
select count(*)::int as deleted from moved`;

export async function recordSeen(tx: TransactionSql, target: SeenTarget, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.unsafe(RECORD_SEEN, [target.connectionId, target.syncName, target.scope, target.model, JSON.stringify(ids)], UNPREPARED);
}

export async function clearSeen(tx: TransactionSql, target: Omit<SeenTarget, 'model'> & { model?: string }): Promise<void> {
  await tx`
    delete from sync_seen where connection_id = ${target.connectionId} and sync_name = ${target.syncName} and scope = ${target.scope}
      ${target.model === undefined ? tx`` : tx`and model = ${target.model}`}`;
}

/** Marks the live records of the model that the walk did not see as deleted, then forgets the walk. */
export async function deleteUnseen(tx: TransactionSql, target: SeenTarget, runId: string): Promise<number> {
  await lockRecordModel(tx, target.connectionId, target.model);
  const [row] = await tx.unsafe<{ deleted: number }[]>(
    MARK_UNSEEN_DELETED,
    [target.connectionId, target.syncName, target.scope, target.model, runId],
    UNPREPARED,
  );
  await clearSeen(tx, target);
  return row?.deleted ?? 0;
}
