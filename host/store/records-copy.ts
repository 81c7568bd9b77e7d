/**
 * Writes new records with one COPY … FROM STDIN (binary format) straight into `records`. The
 * record JSON goes through as its bytes, never parsed in Node; Postgres checks it (jsonb input, the
 * primary key) and any such error rejects the batch through copyIn (host/db/copy-in.ts), which
 * also settles a COPY cancelled when its run ends. Rows get their cursors in the order sent.
 */
import type { TransactionSql } from '../db/connect.ts';
import { copyIn } from '../db/copy-in.ts';
import type { RecordRow } from '@ferry/runtime/contract';
import { PackedRow } from '@ferry/runtime/packed-records';
import { COPY_NEW } from './records-sql.ts';

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return must be escaped. */
export function escapeCopyText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** COPY cannot store NUL in text or jsonb: refused with the record named, before anything is sent. */
function assertNoNul(id: string, json: string | null, hash: string): void {
  if (id.includes('\0') || (json !== null && json.includes('\0')) || hash.includes('\0')) {
    throw Object.assign(new Error(`record ${JSON.stringify(id)} contains a NUL character`), { code: 'INVALID_RECORD' });
  }
}

/**
 * Binary COPY (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"): each
 * field is its length and its bytes, so nothing is escaped and a record's JSON bytes as they
 * came from the worker (PackedRow) are copied as they are. Text COPY had every backslash of
 * every record's JSON doubled, in a JS string, first. The fields per row, in COPY_NEW's order:
 * connection_id int8, model text, id text, data jsonb (version byte 1, then the text), hash
 * text, last_run_id int8 or null, synced_by text[].
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 7;
const TEXT_OID = 25;

function int8Field(value: string): Buffer {
  if (!/^-?[0-9]{1,19}$/.test(value)) throw Object.assign(new Error(`${JSON.stringify(value)} is not a bigint id`), { code: 'INVALID_RECORD' });
  const field = Buffer.allocUnsafe(12);
  field.writeInt32BE(8, 0);
  field.writeBigInt64BE(BigInt(value), 4);
  return field;
}

function textField(value: string): Buffer {
  const bytes = Buffer.from(value);
  const field = Buffer.allocUnsafe(4 + bytes.length);
  field.writeInt32BE(bytes.length, 0);
  bytes.copy(field, 4);
  return field;
}

/** A one-dimensional text[] in array_recv's form: ndim, has-nulls, element type, size, lower bound, elements. */
function writersField(writer: string | null): Buffer {
  const element = writer === null ? null : Buffer.from(writer);
  const body = Buffer.allocUnsafe(element === null ? 12 : 20 + 4 + element.length);
  body.writeInt32BE(element === null ? 0 : 1, 0);
  body.writeInt32BE(0, 4);
  body.writeInt32BE(TEXT_OID, 8);
  if (element !== null) {
    body.writeInt32BE(1, 12);
    body.writeInt32BE(1, 16);
    body.writeInt32BE(element.length, 20);
    element.copy(body, 24);
  }
  const field = Buffer.allocUnsafe(4 + body.length);
  field.writeInt32BE(body.length, 0);
  body.copy(field, 4);
  return field;
}

/**
 * The rows are written straight into Buffers of about CHUNK_BYTES, each chunk ending at a row's
 * end, and sent chunk by chunk: off the host's heap, in allocations the allocator reuses (built
 * as one string, a batch's ~1 MB was flattened and encoded again when sent, ~3.5 ms of host CPU
 * per 1,000 ~1 KB rows).
 */
const CHUNK_BYTES = 64 * 1024;

/** The rows as binary COPY data for COPY_NEW (header to trailer); what every row shares is built once. */
export function encodeCopyRows(connectionId: string, model: string, runId: string | null, writer: string | null, rows: readonly RecordRow[]): Buffer[] {
  // Field count, connection_id and model: the same at the start of every row.
  const head = Buffer.concat([Buffer.from([0, FIELDS]), int8Field(connectionId), textField(model)]);
  const tail = Buffer.concat([runId === null ? Buffer.from([0xff, 0xff, 0xff, 0xff]) : int8Field(runId), writersField(writer)]);
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let at = SIGNATURE.copy(chunk, 0);
  at = chunk.writeInt32BE(0, at); // flags
  at = chunk.writeInt32BE(0, at); // header extension length
  // A packed batch's rows share one source: it is searched for NUL once.
  let searched: Buffer | null = null;
  let firstNul = -1;
  for (const row of rows) {
    const packed = row instanceof PackedRow ? row : null;
    if (packed !== null && packed.source !== searched) {
      searched = packed.source;
      firstNul = searched.indexOf(0);
    }
    const nulInJson = packed !== null && firstNul !== -1 && firstNul < packed.end && packed.source.subarray(packed.start, packed.end).includes(0);
    const json = packed === null ? row.json : null;
    assertNoNul(row.id, nulInJson ? '\0' : json, row.hash);
    const idBytes = Buffer.byteLength(row.id);
    const jsonBytes = packed !== null ? packed.end - packed.start : Buffer.byteLength(json!);
    const hashBytes = Buffer.byteLength(row.hash);
    const bytes = head.length + 4 + idBytes + 4 + 1 + jsonBytes + 4 + hashBytes + tail.length;
    if (at + bytes > chunk.length) {
      if (at > 0) chunks.push(chunk.subarray(0, at));
      chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes + 2));
      at = 0;
    }
    at += head.copy(chunk, at);
    at = chunk.writeInt32BE(idBytes, at);
    at += chunk.write(row.id, at);
    at = chunk.writeInt32BE(1 + jsonBytes, at);
    chunk[at++] = 1; // jsonb's binary version: the JSON text follows
    at += packed !== null ? packed.source.copy(chunk, at, packed.start, packed.end) : chunk.write(json!, at);
    at = chunk.writeInt32BE(hashBytes, at);
    at += chunk.write(row.hash, at);
    at += tail.copy(chunk, at);
  }
  if (at + 2 > chunk.length) {
    chunks.push(chunk.subarray(0, at));
    chunk = Buffer.allocUnsafe(2);
    at = 0;
  }
  at = chunk.writeInt16BE(-1, at); // trailer
  chunks.push(chunk.subarray(0, at));
  return chunks;
}

export async function copyEncodedRows(tx: TransactionSql, chunks: Buffer[]): Promise<void> {
  await copyIn(tx, COPY_NEW, chunks);
}

export async function copyNewRows(tx: TransactionSql, connectionId: string, model: string, runId: string | null, writer: string | null, rows: readonly RecordRow[]): Promise<void> {
  await copyIn(tx, COPY_NEW, encodeCopyRows(connectionId, model, runId, writer, rows));
}
