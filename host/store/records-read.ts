/**
 * Reading records by cursor. `readPage` returns parsed records for Node callers; `readPageJson`
 * returns the API's response text built inside Postgres, so serving a page parses nothing.
 * Both run the same page query (records-sql.ts), so they return the same records.
 */
import type { Sql } from '../db/connect.ts';
import { READ_PAGE, READ_PAGE_JSON } from './records-sql.ts';

export type RecordAction = 'added' | 'updated' | 'deleted';
const ACTIONS: readonly RecordAction[] = ['added', 'updated', 'deleted'];

export const MAX_PAGE_LIMIT = 10_000;
const MAX_BIGINT = 9223372036854775807n;

export interface ReadPageArgs {
  connectionId: string | number | bigint;
  model: string;
  /** The last `next_cursor` seen; null, undefined or '' = from the start. */
  cursor?: string | null;
  limit: number;
  filter?: RecordAction[];
  modifiedAfter?: Date;
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
export type ReadErrorCode = 'INVALID_CURSOR' | 'INVALID_LIMIT' | 'INVALID_FILTER' | 'INVALID_MODIFIED_AFTER';

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

function pageParams(args: ReadPageArgs): (string | number | null)[] {
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
  return [
    String(args.connectionId),
    args.model,
    cursor,
    args.filter ? JSON.stringify(args.filter) : null,
    args.modifiedAfter ? args.modifiedAfter.toISOString() : null,
    args.limit,
  ];
}

// Unprepared: each page is planned with its own parameters (records-sql.ts explains why).
const UNPREPARED = { prepare: false } as const;

export async function readPage(sql: Sql, args: ReadPageArgs): Promise<RecordPage> {
  const rows = await sql.unsafe<{ cursor: string; data: Record<string, unknown>; metadata: FerryMetadata }[]>(
    READ_PAGE,
    pageParams(args),
    UNPREPARED,
  );
  const records = rows.map((row) => ({ ...row.data, _ferry_metadata: row.metadata }));
  return { records, next_cursor: rows.at(-1)?.cursor ?? null };
}

export async function readPageJson(sql: Sql, args: ReadPageArgs): Promise<{ body: string }> {
  const [row] = await sql.unsafe<{ body: string }[]>(READ_PAGE_JSON, pageParams(args), UNPREPARED);
  if (!row) throw new Error('readPageJson: the page query returned no row');
  return { body: row.body };
}
