/**
 * Writes new records through COPY … FROM STDIN (text format) into a staging table, then one
 * INSERT … SELECT into records (records-sql.ts explains why not straight into records). The
 * record JSON goes through as text, never parsed in Node.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransactionSql } from '../db/connect.ts';
import { COPY_STAGING, CREATE_STAGING, INSERT_FROM_STAGING } from './records-sql.ts';

export interface NewRow {
  id: string;
  json: string;
  hash: string;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return must be escaped. */
export function escapeCopyText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Text COPY cannot carry NUL; refusing it here keeps COPY from failing (which would hang). */
function assertNoNul(row: NewRow): void {
  if (row.id.includes('\0') || row.json.includes('\0') || row.hash.includes('\0')) {
    throw Object.assign(new Error(`record ${JSON.stringify(row.id)} contains a NUL character`), { code: 'INVALID_RECORD' });
  }
}

export function encodeCopyRows(rows: NewRow[]): string {
  let text = '';
  for (const row of rows) {
    assertNoNul(row);
    text += escapeCopyText(row.id) + '\t' + escapeCopyText(row.json) + '\t' + escapeCopyText(row.hash) + '\n';
  }
  return text;
}

/** Creates the session's staging table if needed; the caller may pipeline it with other statements. */
export function prepareCopy(tx: TransactionSql): Promise<unknown> {
  return tx.unsafe(CREATE_STAGING, [], { prepare: false });
}

/** Requires prepareCopy to have been issued earlier in the same transaction. */
export async function copyNewRows(tx: TransactionSql, connectionId: string, model: string, runId: string | null, writer: string | null, rows: NewRow[]): Promise<void> {
  const text = encodeCopyRows(rows);
  const writable = await tx.unsafe(COPY_STAGING).writable();
  await pipeline(Readable.from([text]), writable);
  await tx.unsafe(INSERT_FROM_STAGING, [connectionId, model, runId, writer], { prepare: false });
}
