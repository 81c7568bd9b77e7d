/**
 * Delete detection: which records a walk saw, and what happens to the ones it did not see.
 *
 * A hash-unchanged record is not rewritten (records-save.ts), so "seen by this walk" cannot be
 * read from `records`; a walk that detects deletes (a full-refresh pass with `trackDeletes`, or a
 * trackDeletesStart/End window) writes the ids of each batch to `sync_seen` in the batch's own
 * transaction.
 *
 * Ownership: a walk of sync S only concerns records S wrote (`records.synced_by`). An unseen
 * record S wrote alone is deleted; one another sync also wrote only loses S as a writer, and is
 * deleted when the last sync that wrote it stops seeing it.
 *
 * Mass-delete guard: when the deletes would remove too much of the model (`exceedsGuard`), they
 * are held in `held_deletes` instead, for an explicit apply or discard.
 *
 * Everything that moves cursors takes the model's advisory lock and runs in the caller's
 * transaction, so deletes commit with the run's state change or not at all.
 */
import type { Sql, TransactionSql } from '../db/connect.ts';
import { lockRecordModel } from './records.ts';

export type SeenScope = 'full' | 'track';

export interface SeenTarget {
  connectionId: string;
  syncName: string;
  scope: SeenScope;
  model: string;
}

/** When a walk's deletes are held instead of applied. `false` turns the guard off. */
export type MassDeleteGuard = false | { maxShare?: number; minRecords?: number };

export const DEFAULT_GUARD = { maxShare: 0.5, minRecords: 200 } as const;

/**
 * Held when the walk would delete every live record of the model, or more than `maxShare` of them
 * once the model has `minRecords` or more: what a provider answering an empty or partial list
 * during an outage looks like.
 */
export function exceedsGuard(guard: MassDeleteGuard | undefined, wouldDelete: number, live: number): boolean {
  if (guard === false || wouldDelete === 0) return false;
  const { maxShare, minRecords } = { ...DEFAULT_GUARD, ...guard };
  return wouldDelete >= live || (live >= minRecords && wouldDelete > maxShare * live);
}

const UNPREPARED = { prepare: false } as const;

/** $1 connection, $2 sync, $3 scope, $4 model, $5 JSON array of ids. */
const RECORD_SEEN = `
insert into sync_seen (connection_id, sync_name, scope, model, id)
select $1, $2, $3, $4, x from jsonb_array_elements_text($5::text::jsonb) as t(x)
on conflict do nothing`;

/**
 * Live records of model $4 that sync $2 wrote and walk $3 did not see. A correlated probe, not
 * NOT EXISTS: planned before ANALYZE (1-row estimates), the anti join probed sync_seen by its key
 * prefix and filtered on id, quadratic in the model's size (47 s for 20k records). This form
 * always probes the primary key with the id.
 */
const UNSEEN = `
  select r.ctid as tid, r.id, r.cursor, r.synced_by from records r
  where r.connection_id = $1 and r.model = $4 and r.deleted_at is null and $2::text = any(r.synced_by)
    and (select 1 from sync_seen s
         where s.connection_id = $1 and s.sync_name = $2 and s.scope = $3 and s.model = $4 and s.id = r.id) is null`;

/** The same records held earlier: still live, still written by $2, unchanged since ($3 unused). */
const HELD = `
  select r.ctid as tid, r.id, r.cursor, r.synced_by from held_deletes h
  join records r on r.connection_id = h.connection_id and r.model = h.model and r.id = h.id
  where h.connection_id = $1 and h.sync_name = $2 and h.model = $4 and $3::text is not null
    and r.deleted_at is null and r.cursor = h.cursor and $2::text = any(r.synced_by)`;

/** $1 connection, $2 sync, $3 scope, $4 model: what applying would do, and the model's live records. */
const PLAN_UNSEEN = `
select count(*) filter (where u.synced_by = array[$2::text])::int as deletes,
  (select count(*)::int from records where connection_id = $1 and model = $4 and deleted_at is null) as live
from (${UNSEEN}) u`;

/**
 * $1 connection, $2 sync, $3 scope, $4 model, $5 run id. Records only $2 wrote are deleted; the
 * others lose $2 as a writer (no cursor move: the app sees no change).
 */
const applyTo = (source: string) => `
with target as (${source}), moved as (
  update records t
  set deleted_at = now(), updated_at = now(), last_action = 'deleted',
      cursor = nextval('records_cursor_seq'), last_run_id = $5, synced_by = '{}'
  from target u
  where t.ctid = u.tid and u.synced_by = array[$2::text]
  returning 1
), released as (
  update records t set synced_by = array_remove(t.synced_by, $2::text)
  from target u
  where t.ctid = u.tid and u.synced_by <> array[$2::text]
  returning 1
)
select (select count(*) from moved)::int as deleted`;

/** $1 connection, $2 sync, $3 scope, $4 model, $5 run id: the unseen records, kept for review. */
const HOLD_UNSEEN = `
insert into held_deletes (connection_id, sync_name, model, id, cursor, run_id)
select $1, $2, $4, u.id, u.cursor, $5 from (${UNSEEN}) u`;

export async function recordSeen(tx: TransactionSql, target: SeenTarget, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.unsafe(RECORD_SEEN, [target.connectionId, target.syncName, target.scope, target.model, JSON.stringify(ids)], UNPREPARED);
}

export async function clearSeen(tx: TransactionSql, target: Omit<SeenTarget, 'model'> & { model?: string }): Promise<void> {
  await tx`
    delete from sync_seen where connection_id = ${target.connectionId} and sync_name = ${target.syncName} and scope = ${target.scope}
      ${target.model === undefined ? tx`` : tx`and model = ${target.model}`}`;
}

/** Which held deletes of a (connection, sync): every model's, or only these models'. */
export interface HeldTarget {
  connectionId: string;
  syncName: string;
  models?: readonly string[] | undefined;
}

async function dropHeld(tx: TransactionSql | Sql, target: HeldTarget): Promise<number> {
  const rows = await tx`
    delete from held_deletes where connection_id = ${target.connectionId} and sync_name = ${target.syncName}
      ${target.models === undefined ? tx`` : tx`and model = any(${target.models as string[]}::text[])`}`;
  return rows.count;
}

export interface UnseenOutcome {
  deleted: number;
  /** Deletes the guard held instead (0 when applied). */
  held: number;
  /** The model's live records when the walk ended. */
  live: number;
}

/**
 * Ends a walk: deletes (or, past the guard, holds) the unseen records the sync wrote, then
 * forgets the walk. Deletes held by an earlier walk of the same sync and model are replaced:
 * this walk knows better.
 */
export async function settleUnseen(tx: TransactionSql, target: SeenTarget, runId: string, guard?: MassDeleteGuard): Promise<UnseenOutcome> {
  await lockRecordModel(tx, target.connectionId, target.model);
  const params = [target.connectionId, target.syncName, target.scope, target.model];
  await dropHeld(tx, { ...target, models: [target.model] });
  const [plan] = await tx.unsafe<{ deletes: number; live: number }[]>(PLAN_UNSEEN, params, UNPREPARED);
  const { deletes, live } = plan ?? { deletes: 0, live: 0 };
  let outcome: UnseenOutcome;
  if (exceedsGuard(guard, deletes, live)) {
    await tx.unsafe(HOLD_UNSEEN, [...params, runId], UNPREPARED);
    outcome = { deleted: 0, held: deletes, live };
  } else {
    const [row] = await tx.unsafe<{ deleted: number }[]>(applyTo(UNSEEN), [...params, runId], UNPREPARED);
    outcome = { deleted: row?.deleted ?? 0, held: 0, live };
  }
  await clearSeen(tx, target);
  return outcome;
}

export interface HeldDeletes {
  model: string;
  count: number;
  run_id: string;
  held_at: Date;
}

export async function listHeld(sql: Sql | TransactionSql, connectionId: string, syncName: string): Promise<HeldDeletes[]> {
  return sql<HeldDeletes[]>`
    select model, count(*)::int as count, max(run_id)::text as run_id, max(held_at) as held_at
    from held_deletes where connection_id = ${connectionId} and sync_name = ${syncName}
    group by model order by model`;
}

export interface AppliedHeld {
  model: string;
  deleted: number;
  /** The run that held them. */
  runId: string;
  /** The model's newest cursor before the deletes: reading from it gives exactly them (and later changes). */
  cursorBefore: string;
}

/**
 * Applies held deletes (of one model, or all) with the ownership rule of a walk; a record saved
 * again since it was held (its cursor moved) or already deleted is skipped. Per model: how many
 * records were deleted, the run that held them and the cursor before. `then` runs in the same
 * transaction (the app's webhook is written with the deletes, or neither is).
 */
export async function applyHeld(sql: Sql, q: HeldTarget, then?: (tx: TransactionSql, applied: AppliedHeld[]) => Promise<unknown>): Promise<AppliedHeld[]> {
  return sql.begin(async (tx) => {
    const held = (await listHeld(tx, q.connectionId, q.syncName)).filter((h) => q.models === undefined || q.models.includes(h.model));
    const applied: AppliedHeld[] = [];
    for (const h of held) {
      await lockRecordModel(tx, q.connectionId, h.model);
      const [cursor] = await tx<{ max: string | null }[]>`
        select max(cursor)::text as max from records where connection_id = ${q.connectionId} and model = ${h.model} and cursor > 0`;
      const [row] = await tx.unsafe<{ deleted: number }[]>(applyTo(HELD), [q.connectionId, q.syncName, 'held', h.model, h.run_id], UNPREPARED);
      await dropHeld(tx, { ...q, models: [h.model] });
      applied.push({ model: h.model, deleted: row?.deleted ?? 0, runId: h.run_id, cursorBefore: cursor?.max ?? '0' });
    }
    await then?.(tx, applied);
    return applied;
  });
}

/** Forgets held deletes (of one model, or all); the records stay. Returns how many were held. */
export function discardHeld(sql: Sql, q: HeldTarget): Promise<number> {
  return dropHeld(sql, q);
}

/**
 * A removed sync variant's records (its stored models, host/sync/variants.ts): every live one is
 * marked deleted with a new cursor, so an app following the variant's stream sees them go; its
 * seen ids and held deletes are forgotten. In the caller's transaction. Returns the deletes.
 */
export async function deleteVariantRecords(tx: TransactionSql, q: { connectionId: string; syncName: string; models: readonly string[] }): Promise<number> {
  let deleted = 0;
  for (const model of q.models) {
    await lockRecordModel(tx, q.connectionId, model);
    const rows = await tx`
      update records set deleted_at = now(), updated_at = now(), last_action = 'deleted',
        cursor = nextval('records_cursor_seq'), last_run_id = null, synced_by = '{}'
      where connection_id = ${q.connectionId} and model = ${model} and deleted_at is null`;
    deleted += rows.count;
  }
  await tx`delete from sync_seen where connection_id = ${q.connectionId} and sync_name = ${q.syncName} and model = any(${q.models as string[]}::text[])`;
  await dropHeld(tx, q);
  return deleted;
}
