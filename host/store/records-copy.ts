/**
 * Writes new records with one COPY … FROM STDIN (text format) straight into `records`. The
 * record JSON goes through as text, never parsed in Node; Postgres checks it (jsonb input, the
 * primary key) and any such error rejects the batch through copyIn (host/db/copy-in.ts), which
 * also settles a COPY cancelled when its run ends. Rows get their cursors in the order sent.
 */
import type { TransactionSql } from '../db/connect.ts';
import { copyIn } from '../db/copy-in.ts';
import { COPY_NEW } from './records-sql.ts';

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

/** Text COPY cannot carry NUL: refused with the record named, before anything is sent. */
function assertNoNul(row: NewRow): void {
  if (row.id.includes('\0') || row.json.includes('\0') || row.hash.includes('\0')) {
    throw Object.assign(new Error(`record ${JSON.stringify(row.id)} contains a NUL character`), { code: 'INVALID_RECORD' });
  }
}

/** A text[] literal holding `writer` ({} for none), as COPY's text format carries it. */
function writersLiteral(writer: string | null): string {
  if (writer === null) return '{}';
  return escapeCopyText(`{"${writer.replace(/[\\"]/g, (c) => `\\${c}`)}"}`);
}

/** One line per row, in COPY_NEW's column order; what is the same for every row is built once. */
export function encodeCopyRows(connectionId: string, model: string, runId: string | null, writer: string | null, rows: NewRow[]): string {
  const head = `${escapeCopyText(connectionId)}\t${escapeCopyText(model)}\t`;
  const tail = `\t${runId === null ? '\\N' : escapeCopyText(runId)}\t${writersLiteral(writer)}\n`;
  let text = '';
  for (const row of rows) {
    assertNoNul(row);
    text += head + escapeCopyText(row.id) + '\t' + escapeCopyText(row.json) + '\t' + escapeCopyText(row.hash) + tail;
  }
  return text;
}

export async function copyNewRows(tx: TransactionSql, connectionId: string, model: string, runId: string | null, writer: string | null, rows: NewRow[]): Promise<void> {
  await copyIn(tx, COPY_NEW, encodeCopyRows(connectionId, model, runId, writer, rows));
}
