/**
 * Reading records by cursor. `readPage` returns parsed records for Node callers; `readPageBody`
 * (GET /records) and `readPageJson` return the API's response, spliced from the stored JSON, unparsed.
 * Both run the same page query; readPage takes the rows as the driver parses them, the body their
 * bytes as Postgres sent them, and both give each record the same `_ferry_metadata` (the tests
 * compare the two).
 *
 * Why a cursor can be trusted: writers of one (connection, model) draw cursors and commit in the
 * same order (records-save.ts), so everything a reader sees is preceded by everything that will
 * ever exist below it. Filters (last_action, modified_after, ids) only drop rows from a page;
 * next_cursor is the last returned row's cursor, so a filtered reader also never sees a version
 * twice. The read statements live here, beside the only code that runs them.
 */
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';

export type RecordAction = 'added' | 'updated' | 'deleted';
const ACTIONS: readonly RecordAction[] = ['added', 'updated', 'deleted'];

export const MAX_PAGE_LIMIT = 10_000;
/** Most ids one page request may name. */
export const MAX_IDS = 1_000;
const MAX_BIGINT = 9223372036854775807n;

/**
 * A connection named as the API names it, for the key that asks: resolved inside the page query,
 * so GET /records reads a page in one round trip. The page is empty when the key is unknown or
 * revoked, or the connection is not its environment's (the caller then tells which).
 */
export interface KeyedConnection {
  /** hashKey() of the request's secret key. */
  keyHash: string;
  /** The API's connection_id. */
  connectionId: string;
}

export interface ReadPageArgs {
  /** The connection's row id (connections.id), or its API name with the asking key. */
  connectionId: string | number | bigint | KeyedConnection;
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

const FILTERS = `
  and ($4::text is null or last_action in (select jsonb_array_elements_text($4::text::jsonb)))
  and ($5::timestamptz is null or updated_at > $5::timestamptz)`;

const COLUMNS = 'cursor, data, first_seen_at, updated_at, last_action, deleted_at';

/**
 * Which connection a page reads: $1 (its row id), or — for a KeyedConnection — the id of the
 * connection named $n in the environment of the unrevoked key whose hash is $1, as an InitPlan
 * evaluated once before the scan (key_hash and (environment_id, connection_id) are unique, so it
 * is one row or none; none reads nothing).
 */
const keyed = (n: number) => `(select c.id from api_keys k join connections c on c.environment_id = k.environment_id
  and c.connection_id = $${n}::text where k.key_hash = $1::text and k.revoked_at is null)`;

/**
 * One page in cursor order. `connection` as above, $2 model, $3 cursor (exclusive, '0' = start),
 * $4 JSON array of last_action values or null, $5 modified-after time or null, $6 limit.
 * Keyset on records_read_idx (connection_id, model, cursor).
 */
const page = (connection: string) => `
select ${COLUMNS}
from records
where connection_id = ${connection} and model = $2 and cursor > $3::bigint${FILTERS}
order by cursor
limit $6`;

/**
 * The same page restricted to $7, a JSON array of ids: one primary-key probe per distinct id
 * (a LATERAL … LIMIT 1 can only be planned that way), then the cursor order and limit.
 */
const pageByIds = (connection: string) => `
select ${COLUMNS}
from (select distinct id from jsonb_array_elements_text($7::text::jsonb) k(id)) k
cross join lateral (
  select ${COLUMNS} from records
  where connection_id = ${connection} and model = $2 and id = k.id
  limit 1
) r
where cursor > $3::bigint${FILTERS}
order by cursor
limit $6`;

/**
 * Epoch microseconds (Node truncates them to the milliseconds of Date#toISOString). date_part is
 * float8 arithmetic, several times cheaper per row than extract's numeric; rounding to whole
 * microseconds is exact for any date a record can carry (< 2^53 µs).
 */
const us = (column: string) => `(date_part('epoch', page.${column}) * 1000000)::bigint`;

/**
 * The columns as Postgres prints them in its text format: the record's stored JSON text (jsonb's
 * output function), the cursor and the epoch µs as decimal digits. None is cast to text: `::text`
 * of a jsonb or bigint is an I/O coercion, the value printed, copied into a text datum and copied
 * out again — per row a kilobyte more to copy for the same bytes on the wire (bench/api/pg-cpu.ts).
 * Building the response in Node from these is ~2× faster than building it in Postgres with
 * json_build_object/to_char/string_agg (bench/api: Postgres spends the difference per row).
 */
const pageRows = (page: string) => `
select page.cursor as c, page.data as d, ${us('first_seen_at')} as f, ${us('updated_at')} as u,
  page.last_action as a, ${us('deleted_at')} as x
from (${page}) page
order by page.cursor`;

/**
 * The page's cursors alone, as one text `c1,c2,…` ('' for an empty page): a cursor names one
 * version of one record (every change draws a new one, records-sql.ts), so a page whose cursors
 * are these holds exactly the rows the same page query would return now (pageCursors).
 */
const pageCursorList = (page: string) => `
select coalesce(string_agg(page.cursor::text, ',' order by page.cursor), '') as c
from (${page}) page`;

/** Exported for the plan tests (test/store/records-plans.test.ts). */
export const PAGE_STATEMENTS = {
  keyset: pageRows(page('$1')),
  ids: pageRows(pageByIds('$1')),
  /** $1 the key's hash, $7 the API's connection_id. */
  keyedKeyset: pageRows(page(keyed(7))),
  /** $1 the key's hash, $8 the API's connection_id. */
  keyedIds: pageRows(pageByIds(keyed(8))),
} as const;

/** The same pages' cursors alone (pageCursorList), in PAGE_STATEMENTS' parameters. */
export const PAGE_CURSOR_STATEMENTS = {
  keyset: pageCursorList(page('$1')),
  ids: pageCursorList(pageByIds('$1')),
  keyedKeyset: pageCursorList(page(keyed(7))),
  keyedIds: pageCursorList(pageByIds(keyed(8))),
} as const;

/** A page row as postgres.js parses it (readPage): int8 columns stay strings, the jsonb is parsed. */
interface PageRow { c: string; d: Record<string, unknown>; f: string; u: string; a: RecordAction; x: string | null }

const isoDate = (epochMicros: string) => new Date(Math.floor(Number(epochMicros) / 1000)).toISOString();
const isoText = (epochMicros: string) => `"${isoDate(epochMicros)}"`;

/**
 * The record as readPage returns it: the stored object with `_ferry_metadata` last, as the body
 * streamPageBody splices from the same row's bytes (a stored `_ferry_metadata` key is replaced
 * there too, since a JSON object's later key wins). Rows written by one batch share their
 * timestamps: `dates` memoises them per page.
 */
function storedRecord(row: PageRow, dates: Map<string, string>): StoredRecord {
  const iso = (us: string) => {
    let text = dates.get(us);
    if (text === undefined) dates.set(us, (text = isoDate(us)));
    return text;
  };
  const metadata: FerryMetadata = { first_seen_at: iso(row.f), last_modified_at: iso(row.u), last_action: row.a, deleted_at: row.x === null ? null : iso(row.x), cursor: row.c };
  return { ...row.d, _ferry_metadata: metadata };
}

function pageQuery(args: ReadPageArgs, statements: Record<keyof typeof PAGE_STATEMENTS, string> = PAGE_STATEMENTS): { text: string; params: (string | number | null)[] } {
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
  const named = typeof args.connectionId === 'object' ? args.connectionId : null;
  const params = [
    named ? named.keyHash : String(args.connectionId),
    args.model,
    cursor,
    args.filter ? JSON.stringify(args.filter) : null,
    args.modifiedAfter ? args.modifiedAfter.toISOString() : null,
    args.limit,
  ];
  const name = named ? [named.connectionId] : [];
  if (!args.ids) return { text: named ? statements.keyedKeyset : statements.keyset, params: [...params, ...name] };
  return { text: named ? statements.keyedIds : statements.ids, params: [...params, JSON.stringify(args.ids), ...name] };
}

// Unprepared: each page is planned with its own parameters (records-sql.ts explains why). Its
// parameters are all text (strings, numbers, nulls), so the driver binds them without describing
// the statement first (our fork, packages/postgres): one round trip per page, not two.
const UNPREPARED = { prepare: false, describe: false } as const;

/**
 * The cursors of the page `args` reads, as of now: `c1,c2,…` in cursor order, '' when it is empty
 * (as for an unknown or revoked key). Equal to a built page's `PageEnd.cursors`, that page is
 * exactly what reading it now would return (GET /records' read-ahead, records-read-ahead.ts).
 */
export async function pageCursors(sql: Sql, args: ReadPageArgs): Promise<string> {
  const { text, params } = pageQuery(args, PAGE_CURSOR_STATEMENTS);
  const [row] = await sql.unsafe<{ c: string }[]>(text, params, UNPREPARED);
  return row?.c ?? '';
}

export async function readPage(sql: Sql, args: ReadPageArgs): Promise<RecordPage> {
  const { text, params } = pageQuery(args);
  const rows = await sql.unsafe<PageRow[]>(text, params, UNPREPARED);
  const dates = new Map<string, string>();
  const records = rows.map((row) => storedRecord(row, dates));
  return { records, next_cursor: rows.at(-1)?.c ?? null };
}

const OPEN = '{"records":[';
/**
 * Each record of a page goes on a line of its own: `{"records":[`, a newline, the records
 * separated by `,` and a newline, then a newline and `],"next_cursor":…}`. Still one JSON
 * document (whitespace between values), one byte more per record; and a reader can split a page at
 * its newlines as the bytes arrive and parse each record on its own (@ferry/client does), since the
 * stored JSON text never holds a raw newline (Postgres escapes one inside a string as `\n`).
 */
const NEWLINE = 0x0a;
const latin1 = (text: string) => Buffer.from(text, 'latin1');
const META_OPEN = latin1(',"_ferry_metadata":{"first_seen_at":');
const META_MODIFIED = latin1(',"last_modified_at":');
const META_ACTION = latin1(',"last_action":"');
const META_DELETED = latin1('","deleted_at":');
const META_CURSOR = latin1(',"cursor":"');
const NULL = latin1('null');
/** More than the metadata of any row: the keys, three quoted ISO dates, an action, a 19-digit cursor. */
const METADATA_ROOM = 256;

/**
 * The quoted ISO text of an epoch-µs column (bytes start…end of a row message), remembered for
 * the last value seen: the rows of one saved batch share their timestamps and arrive together, so
 * most rows reuse it without building a string (built as a string per row, it cost ~0.25 ms more
 * CPU per 1,000-row page).
 */
function isoOfLast(): (message: Buffer, start: number, end: number) => Buffer {
  let key: Buffer | null = null;
  let iso = NULL;
  return (message, start, end) => {
    if (key === null || message.compare(key, 0, key.length, start, end) !== 0) {
      key = Buffer.from(message.subarray(start, end));
      iso = latin1(isoText(key.toString('latin1')));
    }
    return iso;
  };
}

/** A chunk is handed on once it holds this many bytes: a 1 MB page is ~16 writes. */
const CHUNK_BYTES = 64 * 1024;
/** Room for the record that crosses CHUNK_BYTES; a larger record gets a chunk of its own size. */
const CHUNK_ROOM = CHUNK_BYTES + 16 * 1024;

/**
 * Chunks whose bytes were sent (releasePageChunk), reused by later pages. A new 80 KB buffer per
 * chunk, ~1.2 MB per page, made the host run a full garbage collection every ~10 pages, on V8's
 * threads about as much CPU as building the page (bench/api/store-cpu.ts). A chunk nobody releases
 * is simply collected, so only a consumer that knows its bytes are gone releases it.
 */
const spareChunks = new Set<ArrayBuffer>();
/** ~5 MB: the chunks of a few pages in flight at once. */
const MAX_SPARE_CHUNKS = 64;

function takeChunk(bytes: number): Buffer {
  if (bytes <= CHUNK_ROOM) {
    for (const spare of spareChunks) {
      spareChunks.delete(spare);
      return Buffer.from(spare);
    }
  }
  return Buffer.allocUnsafeSlow(Math.max(CHUNK_ROOM, bytes));
}

/**
 * Hands a chunk of a page body back for reuse once its bytes are no longer needed (written to a
 * socket, copied elsewhere). Only streamPageBody's own standard-size chunks are kept; releasing
 * anything else, or a chunk twice, is a no-op.
 */
export function releasePageChunk(chunk: Uint8Array): void {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && buffer.byteLength === CHUNK_ROOM && spareChunks.size < MAX_SPARE_CHUNKS) spareChunks.add(buffer);
}

const pageCancelled = (cause?: unknown) => Object.assign(new Error('the records page was cancelled: its reader went away', { cause }), { code: 'PAGE_CANCELLED' as const });

/** What streamPageBody uses of a postgres.js query (rowMessages: our fork, packages/postgres). */
interface CancellableRows {
  rowMessages(): { forEach(fn: (row: Buffer) => void): Promise<unknown> };
  /** Resolves once the cancel request is sent (ferry-patch: cancel result). */
  cancel(): Promise<void>;
}

/** A page whose query has ended and whose every byte is built. */
export interface PageEnd {
  rows: number;
  /** The body's length. */
  bytes: number;
  /** Its rows' cursors, `c1,c2,…` ('' for none): what pageCursors gives for an unchanged page. */
  cursors: string;
  /** The last row's cursor (the body's next_cursor), or null. */
  nextCursor: string | null;
}

export interface PageBody {
  /** The page has no records; known before any of its bytes are handed on. */
  empty: boolean;
  /** `{"records":[…],"next_cursor":…}` as UTF-8 bytes, in chunks as Postgres sends the rows. */
  body: ReadableStream<Uint8Array>;
  /** Once the query has ended and the whole body is built: its figures; null when it failed or was cancelled. Never rejects. */
  ended: Promise<PageEnd | null>;
}

/**
 * The API response `{"records":[…],"next_cursor":…}` built from the rows' bytes as Postgres sends
 * them, and handed on while the rest of the page is still arriving: the HTTP response is on its
 * way before the query ends (bench/api). The stored JSON text is never decoded to a JS string nor
 * re-encoded: each record is its stored text minus the closing brace, then its `_ferry_metadata`
 * as JSON text (the same values readPage gives it). Bytes are copied once, straight into the chunk being filled (no per-row buffers to
 * allocate, collect and concatenate: bench/api measured those at ~1 ms of host CPU per page).
 * Resolves once the first chunk (or the whole, shorter page) is built, so a failure before that
 * rejects (and can be retried); one after it errors the stream, which ends the response short of
 * its closing brace: a reader never takes a cut page for a whole one.
 *
 * Cancelling the stream, or aborting `signal` (the request's: its reader went away, before the
 * first chunk or mid-page), cancels the query in Postgres, which would otherwise produce the rest
 * of a page nobody reads; the promise then rejects with `PAGE_CANCELLED` if nothing was handed on.
 */
export async function streamPageBody(sql: Sql, args: ReadPageArgs, logger?: Logger, signal?: AbortSignal): Promise<PageBody> {
  const { text, params } = pageQuery(args);
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let cancelled = false;
    let settled = false;
    let endWith!: (end: PageEnd | null) => void;
    const ended = new Promise<PageEnd | null>((done) => { endWith = done; });
    const query = sql.unsafe(text, params, UNPREPARED) as unknown as CancellableRows;
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      // Only a query still running: a cancel request names the backend, not the statement, so
      // one sent after the page ended could hit the next query on that pooled connection.
      if (!settled) query.cancel().catch((err: unknown) => logger?.warn({ err }, 'could not cancel the query of a records page whose reader went away'));
    };
    const body = new ReadableStream<Uint8Array>({ start: (c) => { controller = c; }, cancel });
    // An abort ends the stream too, so whoever was about to read it learns the reader is gone.
    const abort = () => {
      cancel();
      try { controller.error(pageCancelled()); } catch { /* already closed or errored */ }
    };
    signal?.addEventListener('abort', abort, { once: true });
    let chunk = takeChunk(CHUNK_ROOM);
    let at = chunk.write(OPEN, 0, 'latin1');
    let rows = 0;
    let lastCursorLength = 0;
    let handedOn = false;
    let bytes = 0;
    // The rows' cursors, comma-separated (PageEnd.cursors): ~8 bytes a row.
    let cursors = Buffer.allocUnsafe(4096);
    let cursorsLength = 0;
    const handOn = () => {
      if (!cancelled) controller.enqueue(chunk.subarray(0, at));
      bytes += at;
      at = 0;
      if (!handedOn) {
        handedOn = true;
        resolve({ empty: rows === 0, body, ended });
      }
    };
    /** Room for `bytes` more in the chunk: the full part is handed on first when they do not fit. */
    const reserve = (bytes: number) => {
      if (at + bytes <= chunk.length) return;
      if (at > 0) handOn();
      chunk = takeChunk(bytes);
    };
    const firstSeen = isoOfLast();
    const lastModified = isoOfLast();
    const deletedAt = isoOfLast();
    const lastCursor = Buffer.alloc(20);
    // The metadata up to the cursor's digits, as written for the last row, and the row bytes it
    // was written from (f, u, a, x with their lengths: one span of the message). Rows of one saved
    // batch share them, so most rows copy it whole: one copy instead of ten (bench/api/store-cpu.ts).
    const metaKey = Buffer.alloc(METADATA_ROOM);
    let metaKeyLength = -1;
    const meta = Buffer.alloc(METADATA_ROOM);
    let metaLength = 0;
    // Each row is Postgres' DataRow message: 'D', int32 length, int16 column count, then per
    // column an int32 byte length (-1 = null) and its bytes: c, d, f, u, a, x (pageRows).
    query.rowMessages().forEach((m) => {
      if (cancelled) return; // rows already on their way when the reader left: nobody reads them
      const cAt = 11;
      const cEnd = cAt + m.readInt32BE(7);
      const dAt = cEnd + 4;
      const dEnd = dAt + m.readInt32BE(cEnd);
      const empty = dEnd - dAt === 2 && m[dAt] === 0x7b && m[dAt + 1] === 0x7d; // '{}'
      // Counted first: a chunk handed on to make room for this record is not an empty page's.
      const first = rows++ === 0;
      reserve(dEnd - dAt + METADATA_ROOM);
      if (!first) chunk[at++] = 0x2c; // ','
      chunk[at++] = NEWLINE;
      at += m.copy(chunk, at, dAt, dEnd - 1);
      const keyEnd = m.length; // x is the last column
      if (keyEnd - dEnd !== metaKeyLength || m.compare(metaKey, 0, metaKeyLength, dEnd, keyEnd) !== 0) {
        const fAt = dEnd + 4;
        const fEnd = fAt + m.readInt32BE(dEnd);
        const uAt = fEnd + 4;
        const uEnd = uAt + m.readInt32BE(fEnd);
        const aAt = uEnd + 4;
        const aEnd = aAt + m.readInt32BE(uEnd);
        const xLength = m.readInt32BE(aEnd);
        const xAt = aEnd + 4;
        // `_ferry_metadata` as JSON.stringify would write readPage's: the action bytes as
        // Postgres sent them (ASCII names), the dates as memoised quoted ISO text.
        metaLength = META_OPEN.copy(meta, 0);
        metaLength += firstSeen(m, fAt, fEnd).copy(meta, metaLength);
        metaLength += META_MODIFIED.copy(meta, metaLength);
        metaLength += lastModified(m, uAt, uEnd).copy(meta, metaLength);
        metaLength += META_ACTION.copy(meta, metaLength);
        metaLength += m.copy(meta, metaLength, aAt, aEnd);
        metaLength += META_DELETED.copy(meta, metaLength);
        metaLength += (xLength < 0 ? NULL : deletedAt(m, xAt, xAt + xLength)).copy(meta, metaLength);
        metaLength += META_CURSOR.copy(meta, metaLength);
        metaKeyLength = keyEnd - dEnd <= metaKey.length ? m.copy(metaKey, 0, dEnd, keyEnd) : -1;
      }
      // A record that is `{}` takes the metadata without its leading ','.
      at += meta.copy(chunk, at, empty ? 1 : 0, metaLength);
      at += m.copy(chunk, at, cAt, cEnd); // the cursor's digits as Postgres sent them
      chunk[at++] = 0x22; // '"'
      chunk[at++] = 0x7d; // '}'
      chunk[at++] = 0x7d;
      lastCursorLength = m.copy(lastCursor, 0, cAt, cEnd);
      if (cursorsLength + lastCursorLength + 1 > cursors.length) {
        const grown = Buffer.allocUnsafe(cursors.length * 2);
        cursors.copy(grown, 0, 0, cursorsLength);
        cursors = grown;
      }
      if (!first) cursors[cursorsLength++] = 0x2c;
      cursorsLength += lastCursor.copy(cursors, cursorsLength, 0, lastCursorLength);
      if (at >= CHUNK_BYTES) {
        handOn();
        chunk = takeChunk(CHUNK_ROOM);
      }
    }).then(() => {
      settled = true;
      signal?.removeEventListener('abort', abort);
      if (cancelled) {
        endWith(null);
        return handedOn ? undefined : reject(pageCancelled()); // it ended before the cancel arrived
      }
      const nextCursor = rows === 0 ? null : lastCursor.toString('latin1', 0, lastCursorLength);
      const end = nextCursor === null ? '],"next_cursor":null}' : `\n],"next_cursor":"${nextCursor}"}`;
      reserve(end.length);
      at += chunk.write(end, at, 'latin1');
      handOn();
      controller.close();
      endWith({ rows, bytes, cursors: cursors.toString('latin1', 0, cursorsLength), nextCursor });
    }, (error: unknown) => {
      settled = true;
      signal?.removeEventListener('abort', abort);
      endWith(null);
      if (cancelled) {
        // Our own cancel (Postgres' 57014, or the pool's if the query never started): expected.
        if (!handedOn) reject(pageCancelled(error));
        return;
      }
      if (!handedOn) return reject(error);
      // The response is under way: it can only be cut short, which nothing else reports.
      logger?.warn({ err: error, rows }, 'a records page failed after its first bytes were sent; its response is cut short');
      controller.error(error);
    });
  });
}

/** The same response as one buffer. */
export async function readPageBody(sql: Sql, args: ReadPageArgs): Promise<Buffer<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of (await streamPageBody(sql, args)).body) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  for (const chunk of chunks) releasePageChunk(chunk);
  return body;
}

export async function readPageJson(sql: Sql, args: ReadPageArgs): Promise<{ body: string }> {
  return { body: (await readPageBody(sql, args)).toString('utf8') };
}
