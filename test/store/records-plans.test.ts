/**
 * Plans at realistic size (perf-notes: a plan chosen while a table looked tiny went to scans).
 * The table is left unanalyzed on purpose, as on a fresh install's first sync, and the probed
 * connection is one the table has few rows of.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PAGE_CURSOR_STATEMENTS, PAGE_STATEMENTS } from '../../host/store/records-read.ts';
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

test.each([['keyset', PAGE_STATEMENTS.keyset], ['its cursors alone, for the read-ahead', PAGE_CURSOR_STATEMENTS.keyset]] as const)('the page query (%s) reads the keyset index, with or without filters', async (_name, statement) => {
  for (const [filter, modifiedAfter] of [[null, null], ['["updated","deleted"]', '2020-01-01T00:00:00Z']] as const) {
    const text = await plan(statement, ['101', 'Contact', '1000', filter, modifiedAfter, '1000']);
    // The cursors alone can come from the index itself (an Index Only Scan).
    expect(text).toMatch(/Index (Only )?Scan using records_read_idx/);
    expect(text).not.toMatch(/Seq Scan on records|Sort/);
  }
});

test.each([['ids', PAGE_STATEMENTS.ids]] as const)('the page query by ids (%s) probes the primary key per id', async (_name, statement) => {
  const text = await plan(statement, ['101', 'Contact', '0', null, null, '1000', ids]);
  expect(text).toMatch(/Index Scan using records_pkey[^\n]*\n\s+Index Cond: \(\(connection_id = '101'::bigint\) AND \(model = 'Contact'::text\) AND \(id = /);
  expect(text).not.toMatch(/Seq Scan on records|Bitmap Heap Scan on records/);
});

// GET /records resolves its connection from the key inside the page query: an InitPlan, then the
// same index reads as with the connection's id.
test('the keyed page queries resolve the connection once, then read the same indexes', async () => {
  const [env] = await db.sql<{ id: string }[]>`insert into environments (name) values ('plans') returning id::text`;
  await db.sql`insert into api_keys (environment_id, key_hash) values (${env!.id}, 'plans-hash')`;
  await db.sql`insert into connections (id, environment_id, connection_id, provider) values (101, ${env!.id}, 'c101', 'p')`;
  const [other] = await db.sql<{ id: string }[]>`insert into environments (name) values ('plans-other') returning id::text`;
  await db.sql`insert into connections (id, environment_id, connection_id, provider) values (102, ${other!.id}, 'c102', 'p')`;
  const keyset = await plan(PAGE_STATEMENTS.keyedKeyset, ['plans-hash', 'Contact', '1000', null, null, '1000', 'c101']);
  expect(keyset).toMatch(/InitPlan/);
  expect(keyset).toContain('Index Scan using records_read_idx');
  expect(keyset).not.toMatch(/Seq Scan on records|Bitmap Heap Scan on records/);
  const byIds = await plan(PAGE_STATEMENTS.keyedIds, ['plans-hash', 'Contact', '0', null, null, '1000', ids, 'c101']);
  expect(byIds).toMatch(/InitPlan/);
  expect(byIds).toMatch(/Index Scan using records_pkey[^\n]*\n\s+Index Cond: \(\(connection_id = \$0\) AND \(model = 'Contact'::text\) AND \(id = /);
  expect(byIds).not.toMatch(/Seq Scan on records|Bitmap Heap Scan on records/);
  // Both return the rows the unkeyed statements return for the connection's id.
  const params = ['Contact', '1000', null, null, '50'];
  const direct = await db.sql.unsafe(PAGE_STATEMENTS.keyset, ['101', ...params], { prepare: false });
  const viaKey = await db.sql.unsafe(PAGE_STATEMENTS.keyedKeyset, ['plans-hash', ...params, 'c101'], { prepare: false });
  expect(viaKey).toHaveLength(50);
  expect([...viaKey]).toEqual([...direct]);
  // An unknown key, another environment's connection (which has rows) or a revoked key reads nothing.
  expect(await db.sql.unsafe(PAGE_STATEMENTS.keyedKeyset, ['other-hash', ...params, 'c101'], { prepare: false })).toHaveLength(0);
  expect(await db.sql.unsafe(PAGE_STATEMENTS.keyset, ['102', ...params], { prepare: false })).toHaveLength(50);
  expect(await db.sql.unsafe(PAGE_STATEMENTS.keyedKeyset, ['plans-hash', ...params, 'c102'], { prepare: false })).toHaveLength(0);
  await db.sql`update api_keys set revoked_at = now() where key_hash = 'plans-hash'`;
  expect(await db.sql.unsafe(PAGE_STATEMENTS.keyedKeyset, ['plans-hash', ...params, 'c101'], { prepare: false })).toHaveLength(0);
});
