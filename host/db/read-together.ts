/**
 * Reads of at most one row each that can go to Postgres as ONE statement. A run's start reads its
 * connection, script, state, provider, caps… — independent lookups that, sent as statements of
 * their own, cost each a message to build and parse, a socket write and a backend woken (the
 * scheduler bench's worker hosts spent a third of their samples in those writes). Together they
 * are one statement: each read a `left join lateral` of its query, its columns after a marker
 * column that says whether it found a row. The rows come back through the client's own type
 * parsers (dates, bigints as strings, jsonb), exactly as the read alone would return them.
 */
import type { Row, Sql, TransactionSql } from './connect.ts';

type Query = ReturnType<Sql['unsafe']>;

/** A read of at most one row: its query (not awaited: readOne or readTogether runs it) and what its row means. */
export interface RowRead<T> {
  query: Query;
  /** What the read returns for its row (undefined: none). */
  result(row: Row | undefined): T;
}

export function rowRead<T>(query: Query, result: (row: Row | undefined) => T): RowRead<T> {
  return { query, result };
}

/** The read on its own, as one statement. */
export async function readOne<T>(read: RowRead<T>): Promise<T> {
  const [row] = (await read.query) as Row[];
  return read.result(row);
}

type ResultOf<E> = E extends RowRead<infer T> ? T : undefined;
/** What readTogether returns for `R`: each read's result, undefined for an absent read. */
export type ReadResults<R extends readonly (RowRead<unknown> | undefined)[]> = { -readonly [K in keyof R]: ResultOf<R[K]> };

/** Marks where a read's columns begin; not a name any table uses. */
const marker = (i: number) => `ferry read ${i}`;

/**
 * The reads in one statement, their results in order; an undefined entry is no read, and its
 * result is undefined. The statement's text depends only on which reads are in it, so the client
 * prepares it once per shape.
 */
export async function readTogether<const R extends readonly (RowRead<unknown> | undefined)[]>(db: Sql | TransactionSql, reads: R): Promise<ReadResults<R>> {
  const present = reads.flatMap((read, i) => (read ? [{ read, i }] : []));
  const joins = present.map(({ read, i }) => db`
    left join lateral (select true as ${db(marker(i))}, q.* from (${read.query}) q limit 1) ${db(`r${i}`)} on true`);
  const result = await db`select * from (select) one ${joins}`.values();
  const values = result[0]!;
  const names = result.columns.map((column) => column.name);
  const out: unknown[] = reads.map(() => undefined);
  for (let p = 0; p < present.length; p++) {
    const { read, i } = present[p]!;
    const from = names.indexOf(marker(i));
    const to = p + 1 < present.length ? names.indexOf(marker(present[p + 1]!.i)) : names.length;
    let row: Row | undefined;
    if (values[from] !== null) {
      row = {};
      for (let c = from + 1; c < to; c++) row[names[c]!] = values[c];
    }
    out[i] = read.result(row);
  }
  return out as ReadResults<R>;
}
