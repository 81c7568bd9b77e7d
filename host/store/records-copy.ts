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

/**
 * The lines are written straight into Buffers of about CHUNK_BYTES, each chunk ending at a row's
 * end, and sent chunk by chunk. Built as one string, a batch's ~1 MB of text was flattened and
 * encoded again when sent (~3.5 ms of host CPU per 1,000 ~1 KB rows, --cpu-prof) and sat on the
 * host's heap until then; written into Buffers it stays off the heap, in allocations the
 * allocator reuses.
 */
const CHUNK_BYTES = 64 * 1024;

/** The rows as COPY text lines in COPY_NEW's column order; what every row shares is built once. */
export function encodeCopyRows(connectionId: string, model: string, runId: string | null, writer: string | null, rows: NewRow[]): Buffer[] {
  const head = Buffer.from(`${escapeCopyText(connectionId)}\t${escapeCopyText(model)}\t`);
  const tail = Buffer.from(`\t${runId === null ? '\\N' : escapeCopyText(runId)}\t${writersLiteral(writer)}\n`);
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let at = 0;
  for (const row of rows) {
    assertNoNul(row);
    const id = escapeCopyText(row.id);
    const json = escapeCopyText(row.json);
    const hash = escapeCopyText(row.hash);
    const bytes = head.length + Buffer.byteLength(id) + 1 + Buffer.byteLength(json) + 1 + Buffer.byteLength(hash) + tail.length;
    if (at + bytes > chunk.length) {
      if (at > 0) chunks.push(chunk.subarray(0, at));
      chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
      at = 0;
    }
    at += head.copy(chunk, at);
    at += chunk.write(id, at);
    chunk[at++] = 0x09;
    at += chunk.write(json, at);
    chunk[at++] = 0x09;
    at += chunk.write(hash, at);
    at += tail.copy(chunk, at);
  }
  if (at > 0) chunks.push(chunk.subarray(0, at));
  return chunks;
}

export async function copyEncodedRows(tx: TransactionSql, chunks: Buffer[]): Promise<void> {
  await copyIn(tx, COPY_NEW, chunks);
}

export async function copyNewRows(tx: TransactionSql, connectionId: string, model: string, runId: string | null, writer: string | null, rows: NewRow[]): Promise<void> {
  await copyIn(tx, COPY_NEW, encodeCopyRows(connectionId, model, runId, writer, rows));
}
