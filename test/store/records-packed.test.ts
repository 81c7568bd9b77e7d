/**
 * Batches as they cross from a worker child (runtime/packed-records.ts): built by the worker's
 * buildRecordBatch, sent through V8 serialization as the channel does, checked by the host's
 * schema, and saved by binary COPY from the bytes, against real Postgres.
 */
import { deserialize, serialize } from 'node:v8';
import { expect, test } from 'vitest';
import { PackedBatchSchema } from '../../runtime/ipc.ts';
import { PackedRow, unpackRows } from '../../runtime/packed-records.ts';
import { buildRecordBatch } from '../../runtime/worker/records.ts';
import type { RecordBatch } from '../../runtime/contract.ts';
import { contact, recordStoreOnOwnDatabase } from './fixtures.ts';

const own = recordStoreOnOwnDatabase();

const header = (op: 'save' | 'update' | 'delete' = 'save') => JSON.stringify({ op, model: 'Contact', rejected: [], rejectedCount: 0 });
const lines = (records: Array<{ id: string } & Record<string, unknown>>) => records.map((r) => `${JSON.stringify(r.id)}\t${JSON.stringify(r)}\n`).join('');

/** What the host's saveRecords gets: the worker's batch after the wire and the schema. */
function crossed(records: Array<{ id: string } & Record<string, unknown>>, op: 'save' | 'update' | 'delete' = 'save'): RecordBatch {
  const { batch } = buildRecordBatch(header(op), lines(records));
  const parsed = PackedBatchSchema.parse(deserialize(serialize(batch)));
  return { ...parsed, records: unpackRows(parsed.records) };
}

async function stored(connectionId: string) {
  const rows = await own.db.sql<{ id: string; data: unknown; hash: string; last_run_id: string | null; synced_by: string[] }[]>`
    select id, data, hash, last_run_id::text, synced_by from records where connection_id = ${connectionId} order by id`;
  return rows;
}

const odd = (id: string, v = 1) => ({ ...contact(id, v), unicode: 'Ωmega ✓ 😀 日本', escaped: 'a\\u0041 \\\\ \\n', empty: '' });

test('a packed batch is stored from its bytes: every field as the text-path stores it, unicode and backslashes intact', async () => {
  const connectionId = own.newConnection();
  const batch = crossed([odd('1'), odd('é-2'), odd('3')]);
  expect(batch.records.every((r) => r instanceof PackedRow)).toBe(true);
  const prepared = own.store.prepareNewRows({ connectionId, batch, runId: '9', writer: 'sync-a' });
  expect(await own.store.saveBatch({ connectionId, batch, runId: '9', writer: 'sync-a', prepared })).toEqual({ added: 3, updated: 0, unchanged: 0, deleted: 0, rejected: 0 });
  const rows = await stored(connectionId);
  expect(rows.map((r) => r.id)).toEqual(['1', '3', 'é-2']);
  for (const row of rows) {
    expect(row.data).toEqual(odd(row.id));
    expect(row).toMatchObject({ last_run_id: '9', synced_by: ['sync-a'] });
    expect(row.hash).toBe(batch.records.find((r) => r.id === row.id)!.hash);
  }
  // No writer and no run: a null run id and an empty writers array.
  const other = own.newConnection();
  expect(await own.store.saveBatch({ connectionId: other, batch: crossed([odd('1')]) })).toMatchObject({ added: 1 });
  expect(await stored(other)).toMatchObject([{ last_run_id: null, synced_by: [] }]);
});

test('a re-sync of packed rows: unchanged ones write nothing, changed ones are decoded for the update, new ones go by COPY', async () => {
  const connectionId = own.newConnection();
  await own.store.saveBatch({ connectionId, batch: crossed([odd('1'), odd('2')]), writer: 'sync-a' });
  const batch = crossed([odd('1'), odd('2', 2), odd('3'), odd('3', 3)]);
  expect(await own.store.saveBatch({ connectionId, batch, writer: 'sync-a' })).toEqual({ added: 1, updated: 1, unchanged: 2, deleted: 0, rejected: 0 });
  expect((await stored(connectionId)).map((r) => r.data)).toEqual([odd('1'), odd('2', 2), odd('3', 3)]);
  expect(await own.store.saveBatch({ connectionId, batch: crossed([{ id: '1', patched: true }], 'update') })).toMatchObject({ updated: 1 });
  expect(await own.store.saveBatch({ connectionId, batch: crossed([{ id: '2' }], 'delete') })).toMatchObject({ deleted: 1 });
  const rows = await own.db.sql<{ id: string; patched: boolean | null; deleted: boolean }[]>`
    select id, (data->>'patched')::boolean as patched, deleted_at is not null as deleted from records where connection_id = ${connectionId} order by id`;
  expect(rows).toEqual([{ id: '1', patched: true, deleted: false }, { id: '2', patched: null, deleted: true }, { id: '3', patched: null, deleted: false }]);
});

test('a NUL byte in a packed record (only a broken worker sends one) fails the batch naming the record; nothing is written', async () => {
  const connectionId = own.newConnection();
  const batch = crossed([odd('1'), odd('2')]);
  const second = batch.records[1] as PackedRow;
  second.source[second.start + 10] = 0;
  await expect(own.store.saveBatch({ connectionId, batch })).rejects.toMatchObject({ code: 'INVALID_RECORD', message: expect.stringContaining('"2"') });
  expect(await stored(connectionId)).toEqual([]);
});

test('bytes that are not JSON or not UTF-8 fail the batch in Postgres, and the connection stays usable', async () => {
  for (const corrupt of [0x7b /* '{': JSON no longer */, 0xff /* not UTF-8 */]) {
    const connectionId = own.newConnection();
    const batch = crossed([odd('1'), odd('2')]);
    const first = batch.records[0] as PackedRow;
    first.source[first.end - 1] = corrupt;
    await expect(own.store.saveBatch({ connectionId, batch })).rejects.toThrow();
    expect(await stored(connectionId)).toEqual([]);
    expect(await own.store.saveBatch({ connectionId, batch: crossed([odd('1')]) })).toMatchObject({ added: 1 });
  }
});

test('the host refuses a packed batch whose shape does not hold together', () => {
  const { batch } = buildRecordBatch(header(), lines([odd('1'), odd('2')]));
  const wire = () => deserialize(serialize(batch)) as typeof batch;
  const bad: Array<[string, (b: typeof batch) => void]> = [
    ['an id too many', (b) => { b.records.ids.push('3'); }],
    ['a hash too short', (b) => { b.records.hashes = b.records.hashes.slice(1); }],
    ['a hash not hex', (b) => { b.records.hashes = `Z${b.records.hashes.slice(1)}`; }],
    ['offsets out of order', (b) => { b.records.ends = new Uint32Array([b.records.ends[1]!, b.records.ends[0]!]); }],
    ['an offset past the text', (b) => { b.records.ends = new Uint32Array([b.records.ends[0]!, b.records.json.length + 1]); }],
    ['text past the last record', (b) => { b.records.ends = new Uint32Array([b.records.ends[0]!, b.records.ends[1]! - 1]); }],
    ['text that is not bytes', (b) => { (b.records as { json: unknown }).json = 'text'; }],
  ];
  expect(PackedBatchSchema.safeParse(wire()).success).toBe(true);
  for (const [name, spoil] of bad) {
    const b = wire();
    spoil(b);
    expect(PackedBatchSchema.safeParse(b).success, name).toBe(false);
  }
});
