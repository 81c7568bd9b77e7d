import { beforeAll, describe, expect, test } from 'vitest';
import { createRecordStore, type RecordStore } from '../../host/store/records.ts';
import { contact, deleteBatchOf, recordStoreOnOwnDatabase, saveBatchOf, silentLogger, toRow, updateBatchOf } from './fixtures.ts';

const own = recordStoreOnOwnDatabase();

interface Stored { id: string; data: Record<string, unknown>; cursor: string; updated_at: Date; first_seen_at: Date; deleted_at: Date | null; last_action: string; last_run_id: string | null }
async function stored(connectionId: string, model = 'Contact'): Promise<Map<string, Stored>> {
  const rows = await own.db.sql<Stored[]>`select id, data, cursor::text as cursor, updated_at, first_seen_at, deleted_at, last_action, last_run_id::text as last_run_id from records where connection_id = ${connectionId} and model = ${model}`;
  return new Map(rows.map((r) => [r.id, r]));
}

describe.each(['copy', 'json'] as const)('saveBatch with %s inserts', (insertMethod) => {
  let s: RecordStore;
  beforeAll(() => { s = createRecordStore({ sql: own.db.sql, logger: silentLogger, embedded: false, insertMethod }); });

  test('counts added, updated, unchanged and rejected; stores data as objects', async () => {
    const connectionId = own.newConnection();
    const first = await s.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1'), contact('2'), contact('3')]), runId: '7' });
    expect(first).toEqual({ added: 3, updated: 0, unchanged: 0, deleted: 0, rejected: 0 });

    const second = await s.saveBatch({
      connectionId,
      batch: saveBatchOf('Contact', [contact('1'), contact('2', 2), contact('4')], [{ id: '5', reason: 'email: invalid' }]),
    });
    expect(second).toEqual({ added: 1, updated: 1, unchanged: 1, deleted: 0, rejected: 1 });

    const rows = await stored(connectionId);
    expect(rows.get('2')?.data).toEqual(contact('2', 2));
    expect(rows.get('1')?.data).toEqual(contact('1')); // tabs, backslashes, newlines survive COPY
    expect(rows.get('1')?.last_run_id).toBe('7');
    expect(rows.get('2')?.last_action).toBe('updated');
    expect(rows.get('4')?.last_action).toBe('added');
  });

  test('an unchanged record is not rewritten: cursor and updated_at stay', async () => {
    const connectionId = own.newConnection();
    await s.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1'), contact('2')]) });
    const before = await stored(connectionId);
    const [{ xmin: xminBefore } = { xmin: '' }] = await own.db.sql<{ xmin: string }[]>`select xmin::text from records where connection_id = ${connectionId} and id = '1'`;
    await new Promise((r) => setTimeout(r, 20));
    const result = await s.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1'), contact('2', 2)]) });
    expect(result).toMatchObject({ updated: 1, unchanged: 1 });
    const after = await stored(connectionId);
    expect(after.get('1')?.cursor).toBe(before.get('1')?.cursor);
    expect(after.get('1')?.updated_at).toEqual(before.get('1')?.updated_at);
    const [{ xmin: xminAfter } = { xmin: '' }] = await own.db.sql<{ xmin: string }[]>`select xmin::text from records where connection_id = ${connectionId} and id = '1'`;
    expect(xminAfter).toBe(xminBefore); // the row version itself was not touched
    expect(BigInt(after.get('2')!.cursor)).toBeGreaterThan(BigInt(before.get('2')!.cursor));
    expect(after.get('2')!.updated_at.getTime()).toBeGreaterThan(before.get('2')!.updated_at.getTime());
    expect(after.get('2')?.first_seen_at).toEqual(before.get('2')?.first_seen_at);
  });
});

test('delete marks live records, ignores missing and already deleted ones; a save restores as updated', async () => {
  const connectionId = own.newConnection();
  await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1'), contact('2')]) });
  const before = await stored(connectionId);

  expect(await own.store.saveBatch({ connectionId, batch: deleteBatchOf('Contact', ['1', 'missing']) }))
    .toEqual({ added: 0, updated: 0, unchanged: 1, deleted: 1, rejected: 0 });
  const deleted = (await stored(connectionId)).get('1')!;
  expect(deleted.deleted_at).toBeInstanceOf(Date);
  expect(deleted.last_action).toBe('deleted');
  expect(BigInt(deleted.cursor)).toBeGreaterThan(BigInt(before.get('1')!.cursor));

  expect(await own.store.saveBatch({ connectionId, batch: deleteBatchOf('Contact', ['1']) })).toMatchObject({ deleted: 0, unchanged: 1 });
  expect((await stored(connectionId)).get('1')?.cursor).toBe(deleted.cursor);

  // Same content as before the delete: still a change (it comes back).
  expect(await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1')]) })).toMatchObject({ updated: 1, added: 0 });
  const restored = (await stored(connectionId)).get('1')!;
  expect(restored.deleted_at).toBeNull();
  expect(restored.last_action).toBe('updated');
  expect(BigInt(restored.cursor)).toBeGreaterThan(BigInt(deleted.cursor));
  expect(restored.first_seen_at).toEqual(before.get('1')?.first_seen_at);
});

test('update merges a partial record; updating a missing or deleted record is rejected with its reason', async () => {
  const connectionId = own.newConnection();
  await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1'), contact('2'), contact('3')]) });
  await own.store.saveBatch({ connectionId, batch: deleteBatchOf('Contact', ['3']) });
  const before = await stored(connectionId);

  const result = await own.store.saveBatch({
    connectionId,
    runId: 42,
    batch: updateBatchOf('Contact', [{ id: '1', email: 'new@example.com', extra: { x: 1 } }, { id: '2', version: 1 }, { id: '9', name: 'ghost' }, { id: '3', name: 'gone' }]),
  });
  expect(result).toEqual({ added: 0, updated: 1, unchanged: 1, deleted: 0, rejected: 2 });

  const after = await stored(connectionId);
  expect(after.get('1')?.data).toEqual({ ...contact('1'), email: 'new@example.com', extra: { x: 1 } });
  expect(BigInt(after.get('1')!.cursor)).toBeGreaterThan(BigInt(before.get('1')!.cursor));
  expect(after.get('2')?.cursor).toBe(before.get('2')?.cursor);
  expect(after.has('9')).toBe(false);

  const rejected = await own.db.sql`select record_id, reason, run_id::text as run_id, model from rejected_records where connection_id = ${connectionId} order by seq`;
  expect(rejected.map((r) => ({ ...r }))).toEqual([
    { record_id: '9', reason: 'record 9 does not exist in Contact; use batchSave to create it', run_id: '42', model: 'Contact' },
    { record_id: '3', reason: 'record 3 does not exist in Contact; use batchSave to create it', run_id: '42', model: 'Contact' },
  ]);

  // Saving the merged content in full afterwards is no change (only the hash is refreshed).
  const merged = after.get('1')!.data as { id: string };
  expect(await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [merged]) })).toMatchObject({ unchanged: 1, updated: 0 });
  expect((await stored(connectionId)).get('1')?.cursor).toBe(after.get('1')?.cursor);
});

test('rejected records are stored with run id, model, record id and reason', async () => {
  const connectionId = own.newConnection();
  const result = await own.store.saveBatch({
    connectionId,
    runId: '99',
    batch: saveBatchOf('Deal', [{ id: 'd1', amount: 5 }], [{ id: 'd2', reason: 'amount: expected number' }, { id: null, reason: 'record has no id' }]),
  });
  expect(result).toEqual({ added: 1, updated: 0, unchanged: 0, deleted: 0, rejected: 2 });
  const rows = await own.db.sql`select connection_id::text as connection_id, model, record_id, reason, run_id::text as run_id from rejected_records where connection_id = ${connectionId} order by seq`;
  expect(rows.map((r) => ({ ...r }))).toEqual([
    { connection_id: connectionId, model: 'Deal', record_id: 'd2', reason: 'amount: expected number', run_id: '99' },
    { connection_id: connectionId, model: 'Deal', record_id: null, reason: 'record has no id', run_id: '99' },
  ]);
});

test('an id named twice in one batch: the last copy wins, the earlier one counts as unchanged', async () => {
  const connectionId = own.newConnection();
  const result = await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1'), contact('2'), contact('1', 2)]) });
  expect(result).toEqual({ added: 2, updated: 0, unchanged: 1, deleted: 0, rejected: 0 });
  expect((await stored(connectionId)).get('1')?.data).toEqual(contact('1', 2));
});

/** Runs saveBatch in a transaction that counts the statements it is sent. */
async function countStatements(batch: Parameters<RecordStore['saveBatch']>[0]) {
  let statements = 0;
  const result = await own.db.sql.begin((tx) => {
    const counting = new Proxy(tx, {
      apply: (target, self, args) => (statements++, Reflect.apply(target, self, args)),
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        return key === 'unsafe' ? (...args: Parameters<typeof tx.unsafe>) => (statements++, tx.unsafe(...args)) : value;
      },
    });
    return own.store.saveBatch(batch, counting);
  });
  return { result, statements };
}

test('150,000 copies of one id are one round of statements, whichever the op', async () => {
  const connectionId = own.newConnection();
  const copies = Array.from({ length: 150_000 }, (_, v) => contact('1', v));
  const saved = await countStatements({ connectionId, batch: saveBatchOf('Contact', copies) });
  expect(saved.result).toEqual({ added: 1, updated: 0, unchanged: 149_999, deleted: 0, rejected: 0 });
  expect(saved.statements).toBeLessThanOrEqual(4);
  expect((await stored(connectionId)).get('1')?.data).toEqual(contact('1', 149_999));

  const patches = Array.from({ length: 150_000 }, (_, v) => ({ id: '1', [`k${v % 3}`]: v }));
  const updated = await countStatements({ connectionId, batch: updateBatchOf('Contact', patches) });
  expect(updated.result).toEqual({ added: 0, updated: 1, unchanged: 149_999, deleted: 0, rejected: 0 });
  expect(updated.statements).toBeLessThanOrEqual(4);
  // Patches merged in order: each key keeps its last value, as applying them one by one would.
  expect((await stored(connectionId)).get('1')?.data).toEqual({ ...contact('1', 149_999), k0: 149_997, k1: 149_998, k2: 149_999 });

  const deleted = await countStatements({ connectionId, batch: deleteBatchOf('Contact', Array.from({ length: 150_000 }, () => '1')) });
  expect(deleted.result).toEqual({ added: 0, updated: 0, unchanged: 149_999, deleted: 1, rejected: 0 });
  expect(deleted.statements).toBeLessThanOrEqual(4);
}, 60_000);

test('repeated patches of one id merge a "__proto__" key as data, like jsonb', async () => {
  const connectionId = own.newConnection();
  await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1')]) });
  const patches = [toRow({ id: '1', a: 1 }), { ...toRow({ id: '1' }), json: '{"id":"1","__proto__":{"polluted":true}}' }];
  await own.store.saveBatch({ connectionId, batch: { op: 'update', model: 'Contact', records: patches, rejected: [] } });
  const data = (await stored(connectionId)).get('1')?.data as Record<string, unknown>;
  expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toEqual({ polluted: true });
  expect(data.a).toBe(1);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('a model mismatch between args and batch is refused', async () => {
  await expect(own.store.saveBatch({ connectionId: '1', model: 'Deal', batch: saveBatchOf('Contact', [contact('1')]) }))
    .rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
});

test.each([
  ['malformed JSON', { id: 'bad', json: '{not json', hash: 'x' }],
  ['a \\u0000 escape, which jsonb refuses', { id: 'nul', json: '{"id":"nul","name":"a\\u0000b"}', hash: 'y' }],
  ['a raw NUL character', { id: 'raw\0nul', json: '{"id":"x"}', hash: 'z' }],
] as const)('a batch with %s fails as a whole and writes nothing (no hang: a COPY the server fails settles)', async (_name, bad) => {
  for (const insertMethod of ['copy', 'json'] as const) {
    const s = createRecordStore({ sql: own.db.sql, logger: silentLogger, embedded: false, insertMethod });
    const connectionId = own.newConnection();
    const batch = saveBatchOf('Contact', [contact('1')]);
    batch.records.push({ ...bad });
    await expect(s.saveBatch({ connectionId, batch })).rejects.toThrow();
    expect((await stored(connectionId)).size).toBe(0);
    // The connection is usable afterwards (no transaction left open or aborted).
    expect(await s.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('1')]) })).toMatchObject({ added: 1 });
  }
});

test('rows encoded ahead of their write (prepareNewRows) are stored as without; when some already exist the encoding is not used', async () => {
  const connectionId = own.newConnection();
  const first = saveBatchOf('Contact', [contact('1'), contact('2')]);
  const prepared = own.store.prepareNewRows({ connectionId, batch: first, runId: '5', writer: 'sync-a' });
  expect(prepared?.chunks.length).toBeGreaterThan(0);
  expect(await own.store.saveBatch({ connectionId, batch: first, runId: '5', writer: 'sync-a', prepared })).toMatchObject({ added: 2 });
  // Two of three rows exist: the prepared lines (all three) must not be sent, or COPY would fail on the duplicates.
  const second = saveBatchOf('Contact', [contact('1'), contact('2', 2), contact('3')]);
  const stale = own.store.prepareNewRows({ connectionId, batch: second, runId: '6', writer: 'sync-a' });
  expect(await own.store.saveBatch({ connectionId, batch: second, runId: '6', writer: 'sync-a', prepared: stale })).toEqual({ added: 1, updated: 1, unchanged: 1, deleted: 0, rejected: 0 });
  const rows = await own.db.sql<{ id: string; data: unknown; last_run_id: string; synced_by: string[] }[]>`select id, data, last_run_id::text, synced_by from records where connection_id = ${connectionId} order by id`;
  expect(rows).toEqual([
    { id: '1', data: contact('1'), last_run_id: '5', synced_by: ['sync-a'] },
    { id: '2', data: contact('2', 2), last_run_id: '6', synced_by: ['sync-a'] },
    { id: '3', data: contact('3'), last_run_id: '6', synced_by: ['sync-a'] },
  ]);
  // Encoded for another batch (another records array): ignored, the batch's own rows are written.
  const third = saveBatchOf('Contact', [contact('4')]);
  expect(await own.store.saveBatch({ connectionId, batch: third, prepared })).toMatchObject({ added: 1 });
  expect((await stored(connectionId)).get('4')?.data).toEqual(contact('4'));
  // JSON inserts encode nothing ahead.
  expect(createRecordStore({ sql: own.db.sql, logger: silentLogger, embedded: false, insertMethod: 'json' }).prepareNewRows({ connectionId, batch: third })).toBeNull();
});

test('a series of 10k-record batches: adds, then a re-sync with 10% changed', async () => {
  const connectionId = own.newConnection();
  const make = (i: number, v: number) => ({ id: `c${i}`, first: `First${i}`, last: `Last${i}`, email: `c${i}@example.com`, v, pad: 'x'.repeat(600) });
  for (let b = 0; b < 3; b++) {
    const records = Array.from({ length: 10_000 }, (_, k) => make(b * 10_000 + k, 1));
    expect(await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', records) })).toMatchObject({ added: 10_000 });
  }
  const records = Array.from({ length: 10_000 }, (_, k) => make(k, k % 10 === 0 ? 2 : 1));
  expect(await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', records) }))
    .toEqual({ added: 0, updated: 1_000, unchanged: 9_000, deleted: 0, rejected: 0 });
  const [counts] = await own.db.sql`select count(*)::int as n, count(distinct cursor)::int as cursors from records where connection_id = ${connectionId}`;
  expect(counts).toEqual({ n: 30_000, cursors: 30_000 });
}, 120_000);
