/** Builders for record batches as the runtime hands them to the host (JSON text + sha1 hash). */
import { createHash } from 'node:crypto';
import type { RecordBatch } from '../../runtime/contract.ts';
import { afterAll, beforeAll } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

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

export interface OwnRecordStore {
  /** This file's own database: created before its tests, dropped after them. */
  readonly db: TestDatabase;
  /** The record store on it, as the host makes it against real Postgres (not embedded). */
  readonly store: RecordStore;
  /** A connection id no other test in the file has used (far above the small literal ids some use). */
  newConnection(): string;
}

/** Registers the file's beforeAll/afterAll that give its tests their own database and record store. */
export function recordStoreOnOwnDatabase(): OwnRecordStore {
  let nextConnection = 1_000_001;
  const own = { db: undefined as unknown as TestDatabase, store: undefined as unknown as RecordStore, newConnection: () => String(nextConnection++) };
  beforeAll(async () => {
    own.db = await createTestDatabase();
    own.store = createRecordStore({ sql: own.db.sql, logger: silentLogger, embedded: false });
  });
  afterAll(async () => { await own.db?.drop(); });
  return own;
}
