import { expect, test } from 'vitest';
import type { StoredRecord } from '../../host/store/records.ts';
import { contact, deleteBatchOf, recordStoreOnOwnDatabase, saveBatchOf } from './fixtures.ts';

const own = recordStoreOnOwnDatabase();

async function readAll(connectionId: string, cursor: string | null, limit: number, extra: { filter?: ('added' | 'updated' | 'deleted')[]; modifiedAfter?: Date } = {}) {
  const seen: StoredRecord[] = [];
  for (;;) {
    const page = await own.store.readPage({ connectionId, model: 'Contact', cursor, limit, ...extra });
    if (page.next_cursor === null) return { seen, cursor };
    expect(page.records.length).toBeGreaterThan(0);
    seen.push(...page.records);
    cursor = page.next_cursor;
  }
}

test('paging by next_cursor sees every change exactly once, in cursor order; an empty page keeps the cursor', async () => {
  // Connections of its own on each attempt: what a failed attempt saved would be read again.
  const connectionId = own.newConnection();
  const other = own.newConnection();
  await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', Array.from({ length: 25 }, (_, i) => contact(String(i)))) });
  await own.store.saveBatch({ connectionId: other, batch: saveBatchOf('Contact', [contact('other')]) }); // another connection: never seen

  const first = await readAll(connectionId, null, 7);
  expect(first.seen.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
  const cursors = first.seen.map((r) => BigInt(r._ferry_metadata.cursor));
  expect([...cursors].sort((a, b) => (a < b ? -1 : 1))).toEqual(cursors);

  // Nothing new: an empty page with next_cursor null.
  expect(await own.store.readPage({ connectionId, model: 'Contact', cursor: first.cursor, limit: 7 })).toEqual({ records: [], next_cursor: null });

  // Changes after the cursor: 2 updated, 1 deleted, 1 added, 1 unchanged re-save.
  await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', [contact('3', 2), contact('4', 2), contact('5'), contact('new')]) });
  await own.store.saveBatch({ connectionId, batch: deleteBatchOf('Contact', ['7']) });
  const second = await readAll(connectionId, first.cursor, 2);
  // Within one batch the order of cursors is the store's business; across batches it is commit order.
  const changes = second.seen.map((r) => [r.id, r._ferry_metadata.last_action]);
  expect(changes.slice(0, 3).sort()).toEqual([['3', 'updated'], ['4', 'updated'], ['new', 'added']]);
  expect(changes[3]).toEqual(['7', 'deleted']);
  expect(changes).toHaveLength(4);
  const deleted = second.seen[3]!;
  expect(deleted._ferry_metadata.deleted_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(deleted.name).toBe('Contact 7'); // a deleted record keeps its last data
  expect(second.seen.find((r) => r.id === '3')).toMatchObject({ ...contact('3', 2), _ferry_metadata: { last_action: 'updated', deleted_at: null } });
});

test('filter and modifiedAfter narrow the page', async () => {
  await own.store.saveBatch({ connectionId: '3', batch: saveBatchOf('Contact', [contact('a'), contact('b'), contact('c')]) });
  const [{ now } = { now: new Date(0) }] = await own.db.sql<{ now: Date }[]>`select clock_timestamp() as now`;
  await own.store.saveBatch({ connectionId: '3', batch: saveBatchOf('Contact', [contact('a', 2)]) });
  await own.store.saveBatch({ connectionId: '3', batch: deleteBatchOf('Contact', ['b']) });

  expect((await readAll('3', null, 10, { filter: ['deleted'] })).seen.map((r) => r.id)).toEqual(['b']);
  expect((await readAll('3', null, 10, { filter: ['added', 'updated'] })).seen.map((r) => r.id)).toEqual(['c', 'a']);
  expect((await readAll('3', null, 10, { modifiedAfter: now })).seen.map((r) => r.id)).toEqual(['a', 'b']);
});

test('readPageJson returns exactly the records readPage returns, as the API response text', async () => {
  const odd = { id: 'odd', text: 'tab\t "quote" back\\slash é 😀 \u2028', nested: { list: [1, 2.5, null, true] } };
  await own.store.saveBatch({ connectionId: '4', batch: saveBatchOf('Contact', [contact('1'), odd, { id: 'empty-ish' }]) });
  await own.store.saveBatch({ connectionId: '4', batch: deleteBatchOf('Contact', ['1']) });
  for (const [cursor, limit] of [[null, 2], [null, 10], ['0', 1]] as const) {
    const objects = await own.store.readPage({ connectionId: '4', model: 'Contact', cursor, limit });
    const { body } = await own.store.readPageJson({ connectionId: '4', model: 'Contact', cursor, limit });
    expect(JSON.parse(body)).toEqual(objects);
    expect(body.startsWith('{"records":[')).toBe(true);
  }
  const all = await own.store.readPage({ connectionId: '4', model: 'Contact', limit: 10 });
  expect(all.records.find((r) => r.id === 'odd')).toMatchObject(odd);

  const empty = await own.store.readPageJson({ connectionId: '4', model: 'Contact', cursor: all.next_cursor, limit: 10 });
  expect(empty.body).toBe('{"records":[],"next_cursor":null}');
});

test('a malformed cursor is refused with code INVALID_CURSOR; bad limits and filters too', async () => {
  for (const cursor of ['abc', '-1', '1.5', '99999999999999999999', '9223372036854775808', ' 1']) {
    await expect(own.store.readPage({ connectionId: '1', model: 'Contact', cursor, limit: 10 })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    await expect(own.store.readPageJson({ connectionId: '1', model: 'Contact', cursor, limit: 10 })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  }
  await expect(own.store.readPage({ connectionId: '1', model: 'Contact', cursor: '9223372036854775807', limit: 10 })).resolves.toEqual({ records: [], next_cursor: null });
  await expect(own.store.readPage({ connectionId: '1', model: 'Contact', limit: 0 })).rejects.toMatchObject({ code: 'INVALID_LIMIT' });
  await expect(own.store.readPage({ connectionId: '1', model: 'Contact', limit: 10, filter: ['created' as 'added'] })).rejects.toMatchObject({ code: 'INVALID_FILTER' });
});
