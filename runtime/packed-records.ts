/**
 * A save/update/delete batch's records as they cross from a worker child to the host: every
 * record's JSON as UTF-8 bytes back to back in one Uint8Array, the ids and hashes beside it.
 *
 * Why bytes: as 1,000 strings of ~1 KB, each batch put ~1 MB of record text on the host's V8
 * heap, where it lived across one write and was promoted; over a 1M-record sync V8 grew the
 * heap by ~200 MB before collecting (bench/ingest). A Uint8Array crosses structured clone as a
 * view on the received frame (node:v8's deserializer does not copy it) and stays off the heap;
 * the store sends the bytes to COPY as they are (host/store/records-copy.ts) and decodes a
 * record's text only where SQL needs it as a parameter (changed rows, patches).
 *
 * The host trusts nothing the child says: checkPackedRecords holds the shape (lengths agree,
 * offsets in order and in bounds, hashes hex); Postgres checks each record's JSON (jsonb input)
 * and UTF-8 when it stores it.
 */
import type { RecordRow } from './contract.ts';

export interface PackedRecords {
  ids: string[];
  /** Each record's hex sha1 (40 characters), concatenated in record order. */
  hashes: string;
  /** Each record's JSON text as UTF-8, concatenated in record order. */
  json: Uint8Array;
  /** Where each record's JSON ends in `json` (exclusive); it starts where the one before ends. */
  ends: Uint32Array;
}

const HASH_CHARS = 40;
const HEX = /^[0-9a-f]*$/;

/** Null when `packed` is well formed; otherwise what is wrong with it. */
export function checkPackedRecords(packed: PackedRecords): string | null {
  const count = packed.ids.length;
  if (packed.ends.length !== count) return 'records: ids and offsets differ in number';
  if (packed.hashes.length !== count * HASH_CHARS || !HEX.test(packed.hashes)) return 'records: hashes are not one hex sha1 per record';
  let at = 0;
  for (let i = 0; i < count; i++) {
    const end = packed.ends[i]!;
    if (end < at || end > packed.json.length) return 'records: offsets out of order or past the text';
    at = end;
  }
  if (at !== packed.json.length) return 'records: text past the last record';
  return null;
}

/**
 * One record of a packed batch, as the store's rows are: its JSON text is decoded from the
 * bytes only when read (and not kept), so a batch that goes straight to COPY never makes it.
 */
export class PackedRow implements RecordRow {
  readonly id: string;
  readonly hash: string;
  /** The batch's bytes; this record's JSON is source[start, end). */
  readonly source: Buffer;
  readonly start: number;
  readonly end: number;
  constructor(id: string, hash: string, source: Buffer, start: number, end: number) {
    this.id = id;
    this.hash = hash;
    this.source = source;
    this.start = start;
    this.end = end;
  }

  get json(): string {
    return this.source.toString('utf8', this.start, this.end);
  }

  /** A plain row (e.g. to hand a script's own test harness what it saved). */
  toJSON(): RecordRow {
    return { id: this.id, json: this.json, hash: this.hash };
  }
}

/** The rows of a checked packed batch, reading their JSON from `packed.json` (no copy). */
export function unpackRows(packed: PackedRecords): PackedRow[] {
  const source = Buffer.from(packed.json.buffer, packed.json.byteOffset, packed.json.byteLength);
  const rows: PackedRow[] = new Array(packed.ids.length);
  let at = 0;
  for (let i = 0; i < packed.ids.length; i++) {
    const end = packed.ends[i]!;
    rows[i] = new PackedRow(packed.ids[i]!, packed.hashes.slice(i * HASH_CHARS, (i + 1) * HASH_CHARS), source, at, end);
    at = end;
  }
  return rows;
}

/** Plain rows, each with its JSON text: what a bridge that takes strings is handed. */
export function plainRows(packed: PackedRecords): RecordRow[] {
  return unpackRows(packed).map((row) => row.toJSON());
}
