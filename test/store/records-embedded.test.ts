/** Embedded mode (no DATABASE_URL): PGlite over one socket connection, no COPY FROM STDIN. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { migrate } from '../../host/db/migrate.ts';
import { createRecordStore } from '../../host/store/records.ts';
import { contact, deleteBatchOf, saveBatchOf, silentLogger, updateBatchOf } from './fixtures.ts';

let dataDir: string;
let db: Database;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-embedded-'));
  db = await connectDatabase({ dataDir, logger: silentLogger });
  await migrate(db.sql);
}, 120_000);
afterAll(async () => {
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('saveBatch and readPage work on embedded PGlite', async () => {
  expect(db.embedded).toBe(true);
  const store = createRecordStore({ sql: db.sql, logger: silentLogger, embedded: db.embedded });
  const records = Array.from({ length: 300 }, (_, i) => contact(String(i)));
  expect(await store.saveBatch({ connectionId: '1', runId: '5', batch: saveBatchOf('Contact', records, [{ id: 'x', reason: 'bad' }]) }))
    .toEqual({ added: 300, updated: 0, unchanged: 0, deleted: 0, rejected: 1 });
  expect(await store.saveBatch({ connectionId: '1', batch: saveBatchOf('Contact', [contact('0'), contact('1', 2)]) }))
    .toMatchObject({ unchanged: 1, updated: 1 });
  expect(await store.saveBatch({ connectionId: '1', batch: updateBatchOf('Contact', [{ id: '2', email: 'z@example.com' }]) })).toMatchObject({ updated: 1 });
  expect(await store.saveBatch({ connectionId: '1', batch: deleteBatchOf('Contact', ['3']) })).toMatchObject({ deleted: 1 });

  const seen: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await store.readPage({ connectionId: '1', model: 'Contact', cursor, limit: 128 });
    if (page.next_cursor === null) break;
    seen.push(...page.records.map((r) => r.id as string));
    cursor = page.next_cursor;
  }
  expect(seen).toHaveLength(300);
  expect(new Set(seen).size).toBe(300);
  expect(seen.slice(-3)).toEqual(['1', '2', '3']); // the three changes came last, in commit order

  const json = await store.readPageJson({ connectionId: '1', model: 'Contact', limit: 5 });
  expect(JSON.parse(json.body)).toEqual(await store.readPage({ connectionId: '1', model: 'Contact', limit: 5 }));
}, 120_000);

test('embedded stores never COPY, even when asked to (COPY FROM STDIN closes the PGlite socket)', async () => {
  // Measured with pglite-socket 0.2.17: COPY … FROM STDIN ends in CONNECTION_CLOSED, which would
  // take down the process's only connection. `embedded: true` must never try it.
  const store = createRecordStore({ sql: db.sql, logger: silentLogger, embedded: true, insertMethod: 'copy' });
  expect(await store.saveBatch({ connectionId: '2', batch: saveBatchOf('Contact', [contact('tab\tid')]) })).toMatchObject({ added: 1 });
  const page = await store.readPage({ connectionId: '2', model: 'Contact', limit: 5 });
  expect(page.records[0]).toMatchObject(contact('tab\tid'));
});
