/**
 * Reading records by cursor. `readPage` returns parsed records for Node callers; `readPageJson`
 * returns the API's response text built inside Postgres, so serving a page parses nothing.
 * Both run the same page query, so they return the same records.
 *
 * Why a cursor can be trusted: writers of one (connection, model) draw cursors and commit in the
 * same order (records-save.ts), so everything a reader sees is preceded by everything that will
 * ever exist below it. Filters (last_action, modified_after, ids) only drop rows from a page;
 * next_cursor is the last returned row's cursor, so a filtered reader also never sees a version
 * twice. The read statements live here, beside the only code that runs them.
 */
import type { Sql } from '../db/connect.ts';

export type RecordAction = 'added' | 'updated' | 'deleted';
const ACTIONS: readonly RecordAction[] = ['added', 'updated', 'deleted'];

export const MAX_PAGE_LIMIT = 10_000;
/** Most ids one page request may name. */
export const MAX_IDS = 1_000;
const MAX_BIGINT = 9223372036854775807n;

export interface ReadPageArgs {
  connectionId: string | number | bigint;
  model: string;
  /** The last `next_cursor` seen; null, undefined or '' = from the start. */
  cursor?: string | null;
  limit: number;
  filter?: RecordAction[];
  modifiedAfter?: Date;
  /** Only these record ids (at most MAX_IDS); still in cursor order, still after `cursor`. */
  ids?: string[];
}

export interface FerryMetadata {
  first_seen_at: string;
  last_modified_at: string;
  last_action: RecordAction;
  deleted_at: string | null;
  cursor: string;
}

export type StoredRecord = Record<string, unknown> & { _ferry_metadata: FerryMetadata };

export interface RecordPage {
  records: StoredRecord[];
  /** The last record's cursor, or null when the page is empty (keep your current cursor). */
  next_cursor: string | null;
}

/** Errors carry a stable `code` (checked by code, not instanceof: see style.md). */
export type ReadErrorCode = 'INVALID_CURSOR' | 'INVALID_LIMIT' | 'INVALID_FILTER' | 'INVALID_MODIFIED_AFTER' | 'INVALID_IDS';

function readError(code: ReadErrorCode, message: string): Error & { code: ReadErrorCode } {
  return Object.assign(new Error(message), { code });
}

/** A cursor is the decimal text of a non-negative bigint, as returned in next_cursor. */
export function parseCursor(cursor: string | null | undefined): string {
  if (cursor === null || cursor === undefined || cursor === '') return '0';
  if (typeof cursor !== 'string' || !/^\d{1,19}$/.test(cursor) || BigInt(cursor) > MAX_BIGINT) {
    throw readError('INVALID_CURSOR', `invalid cursor ${JSON.stringify(String(cursor)).slice(0, 40)}: pass a next_cursor value from a previous page`);
  }
  return cursor;
}

/** ISO-8601 UTC with milliseconds, the same text JavaScript's Date#toISOString produces. */
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const METADATA = `json_build_object(
    'first_seen_at', ${iso('first_seen_at')},
    'last_modified_at', ${iso('updated_at')},
    'last_action', last_action,
    'deleted_at', ${iso('deleted_at')},
    'cursor', cursor::text)`;

const FILTERS = `
  and ($4::text is null or last_action in (select jsonb_array_elements_text($4::text::jsonb)))
  and ($5::timestamptz is null or updated_at > $5::timestamptz)`;

/**
 * One page in cursor order. $1 connection_id, $2 model, $3 cursor (exclusive, '0' = start),
 * $4 JSON array of last_action values or null, $5 modified-after time or null, $6 limit.
 * Keyset on records_read_idx (connection_id, model, cursor).
 */
const PAGE = `
select cursor, data, ${METADATA} as metadata
from records
where connection_id = $1 and model = $2 and cursor > $3::bigint${FILTERS}
order by cursor
limit $6`;

/**
 * The same page restricted to $7, a JSON array of ids: one primary-key probe per distinct id
 * (a LATERAL … LIMIT 1 can only be planned that way), then the cursor order and limit.
 */
const PAGE_BY_IDS = `
select cursor, data, ${METADATA} as metadata
from (select distinct id from jsonb_array_elements_text($7::text::jsonb) k(id)) k
cross join lateral (
  select cursor, data, first_seen_at, updated_at, last_action, deleted_at from records
  where connection_id = $1 and model = $2 and id = k.id
  limit 1
) r
where cursor > $3::bigint${FILTERS}
order by cursor
limit $6`;

/** The page as rows: data (parsed by the driver), metadata object, cursor text. */
const asRows = (page: string) => `
select cursor::text as cursor, data, metadata from (${page}) page order by page.cursor`;

/**
 * The page as the API's exact response text, built by string concatenation in Postgres: each
 * record is its stored `data::text` with `"_ferry_metadata":{…}` spliced in before the closing
 * brace, so Node never parses a row (perf-notes: text passthrough is much faster).
 */
const asJson = (page: string) => `
select '{"records":['
  || coalesce(string_agg(
       case when data = '{}'::jsonb then '{' else left(data::text, -1) || ',' end
         || '"_ferry_metadata":' || metadata::text || '}',
       ',' order by cursor), '')
  || '],"next_cursor":' || coalesce(to_json(max(cursor)::text)::text, 'null') || '}' as body
from (${page}) page`;

const STATEMENTS = {
  rows: { keyset: asRows(PAGE), ids: asRows(PAGE_BY_IDS) },
  json: { keyset: asJson(PAGE), ids: asJson(PAGE_BY_IDS) },
} as const;

function pageQuery(shape: 'rows' | 'json', args: ReadPageArgs): { text: string; params: (string | number | null)[] } {
  const cursor = parseCursor(args.cursor);
  if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > MAX_PAGE_LIMIT) {
    throw readError('INVALID_LIMIT', `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  if (args.filter && (args.filter.length === 0 || args.filter.some((a) => !ACTIONS.includes(a)))) {
    throw readError('INVALID_FILTER', `filter must list some of ${ACTIONS.join(', ')}`);
  }
  if (args.modifiedAfter && Number.isNaN(args.modifiedAfter.getTime())) {
    throw readError('INVALID_MODIFIED_AFTER', 'modifiedAfter is not a valid date');
  }
  if (args.ids && (args.ids.length === 0 || args.ids.length > MAX_IDS || args.ids.some((id) => typeof id !== 'string' || id.includes('\0')))) {
    throw readError('INVALID_IDS', `ids must list 1 to ${MAX_IDS} record ids`);
  }
  const params = [
    String(args.connectionId),
    args.model,
    cursor,
    args.filter ? JSON.stringify(args.filter) : null,
    args.modifiedAfter ? args.modifiedAfter.toISOString() : null,
    args.limit,
  ];
  if (!args.ids) return { text: STATEMENTS[shape].keyset, params };
  return { text: STATEMENTS[shape].ids, params: [...params, JSON.stringify(args.ids)] };
}

// Unprepared: each page is planned with its own parameters (records-sql.ts explains why).
const UNPREPARED = { prepare: false } as const;

export async function readPage(sql: Sql, args: ReadPageArgs): Promise<RecordPage> {
  const { text, params } = pageQuery('rows', args);
  const rows = await sql.unsafe<{ cursor: string; data: Record<string, unknown>; metadata: FerryMetadata }[]>(text, params, UNPREPARED);
  const records = rows.map((row) => ({ ...row.data, _ferry_metadata: row.metadata }));
  return { records, next_cursor: rows.at(-1)?.cursor ?? null };
}

export async function readPageJson(sql: Sql, args: ReadPageArgs): Promise<{ body: string }> {
  const { text, params } = pageQuery('json', args);
  const [row] = await sql.unsafe<{ body: string }[]>(text, params, UNPREPARED);
  if (!row) throw new Error('readPageJson: the page query returned no row');
  return { body: row.body };
}
