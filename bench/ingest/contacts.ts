/** Pages of contacts serialised and hashed as the runtime does (JSON text + hex sha1). */
import { createHash } from 'node:crypto';
import type { RecordBatch } from '../../runtime/contract.ts';
import { contactRecord } from './contact-data.ts';

export { contactRecord };

export function contactBatch(start: number, size: number, version = 1): RecordBatch {
  const records: RecordBatch['records'] = [];
  for (let n = start; n < start + size; n++) {
    const json = JSON.stringify(contactRecord(n, version));
    records.push({ id: `contact-${n}`, json, hash: createHash('sha1').update(json).digest('hex') });
  }
  return { op: 'save', model: 'Contact', records, rejected: [] };
}
