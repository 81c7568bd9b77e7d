/**
 * Turns one batch as it leaves the isolate (a header and ONE JSON text of the valid records) into
 * a RecordBatch for the host: every record re-checked for an id, serialised on its own and hashed.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RecordBatch } from '../contract.ts';
import { CAPS } from '../caps.ts';
import { storableJsonText, storableText } from '../bounds.ts';

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

export function sha1Hex(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export function buildRecordBatch(headerText: string, recordsText: string): { batch: RecordBatch; rejectedCount: number } {
  if (Buffer.byteLength(recordsText) > CAPS.batchBytes) {
    throw new BatchError('PAYLOAD_TOO_LARGE', `batch is over the ${CAPS.batchBytes}-byte cap`);
  }
  const header = HeaderSchema.safeParse(safeJson(headerText));
  if (!header.success) throw new BatchError('BRIDGE_ERROR', 'malformed batch header');
  const parsed = safeJson(recordsText);
  if (!Array.isArray(parsed)) throw new BatchError('BRIDGE_ERROR', 'batch records must be a JSON array');

  const { op, model } = header.data;
  const rejected = header.data.rejected.map((r) => ({ id: r.id === null ? null : storableText(r.id), reason: storableText(r.reason.slice(0, CAPS.rejectReasonChars)) }));
  let rejectedCount = header.data.rejectedCount;
  const records: RecordBatch['records'] = [];
  for (const record of parsed as unknown[]) {
    const id = typeof record === 'object' && record !== null && !Array.isArray(record) ? (record as { id?: unknown }).id : undefined;
    if (typeof id !== 'string' && typeof id !== 'number') {
      rejectedCount++;
      if (rejected.length < CAPS.rejectedPerBatch) rejected.push({ id: null, reason: 'id: a record needs a string or number id' });
      continue;
    }
    // Made storable here, before the hash: the hash is of the text Postgres keeps (bounds.ts).
    const json = storableJsonText(JSON.stringify(record));
    if (json.length > CAPS.recordBytes && Buffer.byteLength(json) > CAPS.recordBytes) {
      throw new BatchError('PAYLOAD_TOO_LARGE', `record "${String(id)}" of model ${model} is over the ${CAPS.recordBytes}-byte cap`);
    }
    records.push({ id: storableText(String(id)), json, hash: sha1Hex(json) });
  }
  return { batch: { op, model, records, rejected, rejectedCount }, rejectedCount };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
