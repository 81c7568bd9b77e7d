/**
 * Every write statement of the record store, as text with $n parameters ("SQL as data":
 * reviewable in one place; the store only executes them). Read statements: records-read.ts.
 *
 * Conventions:
 * - Lists of ids / rows travel as ONE text parameter holding a JSON array, cast on the server
 *   (`$3::text::jsonb`). postgres.js would JSON-encode a JS string bound to a jsonb parameter,
 *   and encoding text[] arrays costs ~5× more Node CPU than one JSON string (perf-notes).
 * - The store executes these unprepared (`prepare: false`), so Postgres plans each execution
 *   with its actual parameters: a named statement first planned while `records` was tiny would
 *   keep a sequential-scan generic plan as the table grows (perf-notes: 18–21× slower lookups).
 */

/** First key of the two-key advisory lock space reserved for records: "rec" + 1. */
export const RECORDS_LOCK_CLASS = 0x72656301;

/**
 * $1 connection_id, $2 model. Serialises writers of one (connection, model) until commit, so
 * cursors there are drawn and committed in the same order (see records-save.ts).
 */
export const LOCK_MODEL = `
select pg_advisory_xact_lock(${RECORDS_LOCK_CLASS}, hashtext($1::text || '/' || $2::text))`;

/**
 * Id probes are written as a LATERAL subquery with LIMIT 1 per id: that shape can only be run as
 * one primary-key lookup per id, whatever the planner believes about the table. Simpler shapes
 * (`id = any(…)`, a join) were planned — before ANALYZE, and for any connection the statistics
 * have not seen yet, when (connection_id, model) is estimated at ~1 row — as a scan of every row
 * of the model filtered by the batch's ids: ingest became quadratic (a 10k batch took seconds).
 * Writes then address the probed rows by ctid; that is safe because the writer holds the
 * (connection, model) lock, so no other writer can move those rows in between.
 */
const probe = (ids: string, columns: string) => `
  cross join lateral (
    select ${columns} from records
    where connection_id = $1 and model = $2 and id = ${ids}
    limit 1
  ) r`;

/**
 * Which syncs wrote a record (`records.synced_by`): a delete-detecting walk of one sync deletes
 * only records that sync wrote (records-deletes.ts). $n is the writing sync's name, or null for
 * a writer that is no sync (an action): null leaves the writers as they are.
 */
const withWriter = (writers: string, n: number) =>
  `case when $${n}::text is null or $${n}::text = any(${writers}) then ${writers} else ${writers} || $${n}::text end`;
const writersOf = (n: number) => `case when $${n}::text is null then '{}'::text[] else array[$${n}::text] end`;

/**
 * $1 connection_id, $2 model, $3 JSON array of ids, $4 writing sync or null → the stored hash
 * and liveness of each, and whether that sync is already among its writers.
 */
export const LOOKUP_HASHES = `
select k.id, r.hash, r.deleted_at is not null as deleted, ($4::text is null or $4::text = any(r.synced_by)) as owned
from jsonb_array_elements_text($3::text::jsonb) k(id)${probe('k.id', 'hash, deleted_at, synced_by')}`;

/**
 * New rows straight into records (records-copy.ts builds the lines: last_action is 'added',
 * synced_by the writing sync or none). COPY fires no ON CONFLICT: the rows are the ones the
 * lookup under the (connection, model) lock did not find, so a duplicate is a bug and fails the batch.
 */
export const COPY_NEW = `copy records (connection_id, model, id, data, hash, last_run_id, synced_by) from stdin with (format binary)`;

/** $1 connection_id, $2 model, $3 JSON array of {i: id, h: hash, d: record}, $4 run id, $5 writing sync or null. */
export const INSERT_NEW = `
insert into records (connection_id, model, id, data, hash, last_action, last_run_id, synced_by)
select $1, $2, e->>'i', e->'d', e->>'h', 'added', $4, ${writersOf(5)}
from jsonb_array_elements($3::text::jsonb) with ordinality as t(e, n)
order by n`;

/**
 * Rows whose hash differs from the stored one (or that were deleted). Same parameters as
 * INSERT_NEW. A row whose content is equal although its hash is not (e.g. after a batchUpdate
 * stored a merged hash) only gets its hash refreshed: it stays unchanged and keeps its cursor.
 * A deleted row that comes back is restored as 'updated', written by this sync alone.
 * $5 the writing sync or null: it joins the row's writers.
 */
export const UPDATE_CHANGED = `
with v as (
  select r.ctid as tid, r.deleted_at, r.data as old, e->'d' as d, e->>'h' as h
  from jsonb_array_elements($3::text::jsonb) e${probe("e->>'i'", 'ctid, deleted_at, data')}
), moved as (
  update records t
  set data = v.d, hash = v.h, cursor = nextval('records_cursor_seq'), updated_at = now(),
      deleted_at = null, last_action = 'updated', last_run_id = $4,
      synced_by = case when v.deleted_at is not null then ${writersOf(5)} else ${withWriter('t.synced_by', 5)} end
  from v
  where t.ctid = v.tid and (v.deleted_at is not null or v.old <> v.d)
  returning 1
), rehashed as (
  update records t set hash = v.h, synced_by = ${withWriter('t.synced_by', 5)}
  from v
  where t.ctid = v.tid and v.deleted_at is null and v.old = v.d
  returning 1
)
select (select count(*) from moved)::int as updated, (select count(*) from rehashed)::int as rehashed`;

/**
 * A sync saved records another sync wrote, unchanged: it joins their writers (nothing else moves,
 * not even the cursor: the app sees no change). $1 connection_id, $2 model, $3 JSON array of
 * ids, $4 the writing sync.
 */
export const ADD_WRITER = `
update records t set synced_by = t.synced_by || $4::text
from (
  select r.ctid as tid
  from jsonb_array_elements_text($3::text::jsonb) k(id)${probe('k.id', 'ctid, synced_by')}
  where not ($4::text = any(r.synced_by))
) v
where t.ctid = v.tid`;

/**
 * batchUpdate: merges each patch into the live record (`data || patch`, top-level keys). Same
 * parameters as INSERT_NEW, without hashes. The stored hash becomes 'merged:' + md5 of the
 * merged data: a later batchSave of equal content then only refreshes the hash (UPDATE_CHANGED).
 */
export const MERGE_PATCHES = `
with v as (
  select r.ctid as tid, r.data as old, r.data || (e->'d') as merged
  from jsonb_array_elements($3::text::jsonb) e${probe("e->>'i'", 'ctid, data, deleted_at')}
  where r.deleted_at is null
), moved as (
  update records t
  set data = v.merged, hash = 'merged:' || md5(v.merged::text),
      cursor = nextval('records_cursor_seq'), updated_at = now(), last_action = 'updated', last_run_id = $4
  from v
  where t.ctid = v.tid and v.merged <> v.old
  returning 1
)
select count(*)::int as updated from moved`;

/**
 * $1 connection_id, $2 model, $3 JSON array of ids, $4 run id. Only live rows are deleted. An
 * explicit delete is final whoever wrote the record: its writers are cleared.
 */
export const MARK_DELETED = `
with v as (
  select r.ctid as tid
  from jsonb_array_elements_text($3::text::jsonb) k(id)${probe('k.id', 'ctid, deleted_at')}
  where r.deleted_at is null
), moved as (
  update records t
  set deleted_at = now(), updated_at = now(), last_action = 'deleted',
      cursor = nextval('records_cursor_seq'), last_run_id = $4, synced_by = '{}'
  from v
  where t.ctid = v.tid
  returning 1
)
select count(*)::int as deleted from moved`;

/** $1 connection_id, $2 model, $3 JSON array of {i: record id or null, r: reason}, $4 run id. */
export const INSERT_REJECTED = `
insert into rejected_records (connection_id, model, record_id, reason, run_id)
select $1, $2, e->>'i', e->>'r', $4
from jsonb_array_elements($3::text::jsonb) with ordinality as t(e, n)
order by n`;
