/**
 * Plans at realistic size (perf-notes: a plan chosen while a table looked tiny went to scans).
 * The table is left unanalyzed on purpose, as on a fresh install's first sync, and the probed
 * connection is one the table has few rows of.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PAGE_STATEMENTS } from '../../host/store/records-read.ts';
import { ADD_WRITER, LOOKUP_HASHES, MARK_DELETED, MERGE_PATCHES, UPDATE_CHANGED } from '../../host/store/records-sql.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql.unsafe(`insert into records (connection_id, model, id, data, hash)
    select 100 + g % 4, 'Contact', 'r' || g, jsonb_build_object('id', 'r' || g), md5(g::text) from generate_series(1, 200000) g`);
}, 120_000);
afterAll(async () => { await db?.drop(); });

async function plan(statement: string, params: (string | null)[]): Promise<string> {
  return db.sql.begin(async (tx) => {
    const rows = await tx.unsafe(`explain ${statement}`, params, { prepare: false });
    return rows.map((r) => r['QUERY PLAN'] as string).join('\n');
  });
}

const ids = JSON.stringify(Array.from({ length: 1000 }, (_, i) => `r${i * 4 + 1}`));
const rows = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ i: `r${i * 4 + 1}`, h: 'x', d: { id: `r${i * 4 + 1}`, v: 2 } })));

test.each([
  ['lookup', LOOKUP_HASHES, [ids, 'contacts']],
  ['update changed', UPDATE_CHANGED, [rows, null, 'contacts']],
  ['add writer', ADD_WRITER, [ids, 'contacts']],
  ['merge patches', MERGE_PATCHES, [rows, null]],
  ['mark deleted', MARK_DELETED, [ids, null]],
] as const)('%s probes the primary key once per id, never scans the model', async (_name, statement, extra) => {
  const text = await plan(statement, ['101', 'Contact', ...extra]);
  expect(text).toMatch(/Index Scan using records_pkey[^\n]*\n\s+Index Cond: \(\(connection_id = '101'::bigint\) AND \(model = 'Contact'::text\) AND \(id = /);
  expect(text).not.toMatch(/Seq Scan on records|Bitmap Heap Scan on records|records_read_idx/);
});

test.each([['keyset', PAGE_STATEMENTS.keyset]] as const)('the page query (%s) reads the keyset index, with or without filters', async (_name, statement) => {
  for (const [filter, modifiedAfter] of [[null, null], ['["updated","deleted"]', '2020-01-01T00:00:00Z']] as const) {
    const text = await plan(statement, ['101', 'Contact', '1000', filter, modifiedAfter, '1000']);
    expect(text).toContain('Index Scan using records_read_idx');
  }
});

test.each([['ids', PAGE_STATEMENTS.ids]] as const)('the page query by ids (%s) probes the primary key per id', async (_name, statement) => {
  const text = await plan(statement, ['101', 'Contact', '0', null, null, '1000', ids]);
  expect(text).toMatch(/Index Scan using records_pkey[^\n]*\n\s+Index Cond: \(\(connection_id = '101'::bigint\) AND \(model = 'Contact'::text\) AND \(id = /);
  expect(text).not.toMatch(/Seq Scan on records|Bitmap Heap Scan on records/);
});
