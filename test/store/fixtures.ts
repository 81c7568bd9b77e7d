/** Builders for record batches as the runtime hands them to the host (JSON text + sha1 hash). */
import { createHash } from 'node:crypto';
import type { RecordBatch } from '../../runtime/contract.ts';
import { createLogger } from '../../host/logger.ts';

export const silentLogger = createLogger({ level: 'silent' });

export function toRow(record: { id: string } & Record<string, unknown>): RecordBatch['records'][number] {
  const json = JSON.stringify(record);
  return { id: record.id, json, hash: createHash('sha1').update(json).digest('hex') };
}

export function saveBatchOf(model: string, records: Array<{ id: string } & Record<string, unknown>>, rejected: RecordBatch['rejected'] = []): RecordBatch {
  return { op: 'save', model, records: records.map(toRow), rejected };
}

export function updateBatchOf(model: string, patches: Array<{ id: string } & Record<string, unknown>>): RecordBatch {
  return { op: 'update', model, records: patches.map(toRow), rejected: [] };
}

export function deleteBatchOf(model: string, ids: string[]): RecordBatch {
  return { op: 'delete', model, records: ids.map((id) => toRow({ id })), rejected: [] };
}

export function contact(id: string, version = 1): { id: string } & Record<string, unknown> {
  return { id, name: `Contact ${id}`, email: `c${id}@example.com`, version, tags: ['a', 'b'], note: 'tab\there\\ and "quotes"\nnewline' };
}
