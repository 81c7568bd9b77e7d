/**
 * Turns one batch as it leaves the isolate (a header, and one text holding a line per valid
 * record: `<its id as the prelude read it, JSON>\t<the record's JSON>\n`) into a packed batch for
 * the host (runtime/packed-records.ts). Each record's JSON is forwarded as the isolate's JSON.stringify wrote it and hashed as
 * is: it was parsed and re-serialised here before, ~3 ms of worker CPU per 1,000 ~1 KB records.
 * The text is still checked line by line: a line not shaped like `id\t{…}` fails the batch; the
 * id is the one in the record's JSON (recordId); each record is made storable (bounds.ts) and held
 * to the record cap and to the depth rule every value the host takes is held to (bounds.ts: a record
 * nested deeper is rejected alone, with its reason). The line can only be what the prelude's captured JSON.stringify produced;
 * Postgres checks the JSON again (jsonb input) when it stores it.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';
import type { PackedBatch } from '../ipc.ts';
import { CAPS } from '../caps.ts';
import { depthMessage, jsonDepthChecker, storableJsonText, storableText } from '../bounds.ts';

export class BatchError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'BatchError';
    this.code = code;
  }
}

const HeaderSchema = z.object({
  op: z.enum(['save', 'update', 'delete']),
  model: z.string().max(200),
  rejected: z.array(z.object({ id: z.string().nullable(), reason: z.string() })).max(CAPS.rejectedPerBatch),
  rejectedCount: z.number().int().nonnegative(),
});

/** One-shot crypto.hash: no Hash object per record (0.73 vs 1.15 ms per 1,000 ~1 KB records). */
export function sha1Hex(text: string): string {
  return hash('sha1', text, 'hex');
}

/**
 * The batch for the host: its records packed (runtime/packed-records.ts), each record's JSON
 * written as UTF-8 into one buffer, so the host gets bytes, not 1,000 strings on its heap.
 */
export function buildRecordBatch(headerText: string, recordsText: string): { batch: PackedBatch; rejectedCount: number } {
  const textBytes = Buffer.byteLength(recordsText);
  if (textBytes > CAPS.batchBytes) {
    throw new BatchError('PAYLOAD_TOO_LARGE', `batch is over the ${CAPS.batchBytes}-byte cap`);
  }
  const header = HeaderSchema.safeParse(safeJson(headerText));
  if (!header.success) throw new BatchError('BRIDGE_ERROR', 'malformed batch header');
  const { op, model } = header.data;
  const rejected = header.data.rejected.map((r) => ({ id: r.id === null ? null : storableText(r.id), reason: storableText(r.reason.slice(0, CAPS.rejectReasonChars)) }));
  let rejectedCount = header.data.rejectedCount;
  const ids: string[] = [];
  const ends: number[] = [];
  let hashes = '';
  // The records' JSON is shorter than the text holding it with ids; grown only if a record's
  // text became longer when made storable.
  let bytes = Buffer.allocUnsafe(textBytes);
  let at = 0;
  // Records cross as text, so the depth rule is checked on the text: brackets counted by native
  // search, only a record with over MAX_DEPTH of them scanned (bounds.ts; bench/ingest).
  const tooDeep = jsonDepthChecker(recordsText);
  for (let start = 0; start < recordsText.length;) {
    const end = recordsText.indexOf('\n', start);
    const tab = recordsText.indexOf('\t', start);
    if (end === -1 || tab === -1 || tab > end) throw new BatchError('BRIDGE_ERROR', 'malformed batch records');
    const idJson = recordsText.slice(start, tab);
    const text = recordsText.slice(tab + 1, end);
    start = end + 1;
    if (text[0] !== '{' || text[text.length - 1] !== '}') throw new BatchError('BRIDGE_ERROR', 'malformed batch records');
    const id = recordId(idJson, text);
    if (id === null || id === '') {
      rejectedCount++;
      if (rejected.length < CAPS.rejectedPerBatch) rejected.push(id === null ? { id: null, reason: 'id: a record needs a string or number id' } : { id, reason: EMPTY_ID_REASON });
      continue;
    }
    // Replaced with U+FFFD, as other stored text is, an id would name another record than the
    // provider's (and collide with one that has U+FFFD there); the API refuses such ids too.
    const unstorable = UNSTORABLE_ID.test(id) ? unstorableIdReason(id) : null;
    if (unstorable) {
      rejectedCount++;
      if (rejected.length < CAPS.rejectedPerBatch) rejected.push({ id: storableText(id.slice(0, 200)), reason: unstorable });
      continue;
    }
    if (id.length * 3 > CAPS.recordIdBytes && Buffer.byteLength(id) > CAPS.recordIdBytes) {
      rejectedCount++;
      const shown = storableText(id.slice(0, 100));
      if (rejected.length < CAPS.rejectedPerBatch) rejected.push({ id: `${shown}…`, reason: `id: ${Buffer.byteLength(id)} bytes long, over the ${CAPS.recordIdBytes}-byte cap on a record's id` });
      continue;
    }
    if (tooDeep(tab + 1, end)) {
      rejectedCount++;
      if (rejected.length < CAPS.rejectedPerBatch) rejected.push({ id: storableText(id), reason: depthMessage('record', []) });
      continue;
    }
    // Made storable here, before the hash: the hash is of the text Postgres keeps (bounds.ts).
    const json = storableJsonText(text);
    if (json.length > CAPS.recordBytes && Buffer.byteLength(json) > CAPS.recordBytes) {
      throw new BatchError('PAYLOAD_TOO_LARGE', `record "${id}" of model ${model} is over the ${CAPS.recordBytes}-byte cap`);
    }
    const room = bytes.length - at;
    if (json.length > room || (json.length * 3 > room && Buffer.byteLength(json) > room)) {
      const grown = Buffer.allocUnsafe(Math.max(bytes.length * 2, at + Buffer.byteLength(json)));
      bytes.copy(grown, 0, 0, at);
      bytes = grown;
    }
    at += bytes.write(json, at);
    ends.push(at);
    ids.push(id);
    hashes += sha1Hex(json);
  }
  const records = { ids, hashes, json: bytes.subarray(0, at), ends: Uint32Array.from(ends) };
  return { batch: { op, model, records, rejected, rejectedCount }, rejectedCount };
}

/**
 * The record's id as its JSON has it, the one the host keys on (a getter or toJSON may make it
 * differ from what the prelude read). Most records serialise their id first: when the text
 * starts with `{"id":<the id the prelude read>` followed by `,` or `}`, that is it, with no
 * parse; otherwise the record's JSON is parsed for its id. Null: no string or number id.
 */
function recordId(idJson: string, text: string): string | null {
  const after = ID_PREFIX.length + idJson.length;
  let id: unknown;
  if (text.startsWith(ID_PREFIX) && text.startsWith(idJson, ID_PREFIX.length) && (text[after] === ',' || text[after] === '}')) id = safeJson(idJson);
  else {
    const parsed = safeJson(text);
    id = typeof parsed === 'object' && parsed !== null ? (parsed as { id?: unknown }).id : undefined;
  }
  return typeof id === 'string' || typeof id === 'number' ? String(id) : null;
}

const ID_PREFIX = '{"id":';

/** An empty id names no record a provider has (and a reader cannot ask for it by id). */
const EMPTY_ID_REASON = 'id: a record id must not be empty';

const UNSTORABLE_ID = /[\u0000\ud800-\udfff]/;

/** Why an id cannot be stored as it is (Postgres text holds no NUL; a lone surrogate has no UTF-8), or null. */
function unstorableIdReason(id: string): string | null {
  if (id.includes('\u0000')) return 'id: contains a NUL character (U+0000), which cannot be stored';
  return id.isWellFormed() ? null : 'id: contains a lone surrogate (not valid Unicode), which cannot be stored';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
