/**
 * The cursor promise: a reader following next_cursor never misses a change, even when two
 * writers of the same (connection, model) commit out of order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { recordStoreOnOwnDatabase, saveBatchOf } from './fixtures.ts';

const own = recordStoreOnOwnDatabase();

function createPollingReader(connectionId: string, model: string) {
  let cursor: string | null = null;
  const seen: Array<{ id: string; version: number; cursor: string }> = [];
  return {
    seen,
    async poll(): Promise<number> {
      const page = await own.store.readPage({ connectionId, model, cursor, limit: 3 });
      for (const r of page.records) seen.push({ id: r.id as string, version: r.version as number, cursor: r._ferry_metadata.cursor });
      if (page.next_cursor !== null) cursor = page.next_cursor;
      return page.records.length;
    },
  };
}

test('a writer holding its transaction open cannot be overtaken: the reader sees every record exactly once', async () => {
  const connectionId = own.newConnection(); // its own on each attempt
  const reader = createPollingReader(connectionId, 'Contact');
  let releaseA!: () => void;
  const gate = new Promise<void>((resolve) => { releaseA = resolve; });
  let aSaved!: () => void;
  const aHasSaved = new Promise<void>((resolve) => { aSaved = resolve; });

  // Writer A (say, a sync) saves and keeps its transaction open.
  const writerA = own.db.sql.begin(async (tx) => {
    await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', ['a1', 'a2', 'a3', 'a4'].map((id) => ({ id, version: 1 }))) }, tx);
    aSaved();
    await gate;
  });
  await aHasSaved;

  // Writer B (say, an action) writes the same (connection, model) and would commit first.
  let bSettled = false;
  const writerB = own.store
    .saveBatch({ connectionId, batch: saveBatchOf('Contact', ['b1', 'b2', 'b3', 'b4'].map((id) => ({ id, version: 1 }))) })
    .finally(() => { bSettled = true; });

  for (let i = 0; i < 5; i++) { await reader.poll(); await sleep(30); }
  expect(bSettled).toBe(false); // B waits for A's lock instead of committing cursors above A's
  expect(reader.seen).toEqual([]);

  releaseA();
  await writerA;
  await writerB;
  while ((await reader.poll()) > 0);
  await reader.poll();

  expect(reader.seen.map((s) => s.id).sort()).toEqual(['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3', 'b4']);
  const aCursors = reader.seen.filter((s) => s.id.startsWith('a')).map((s) => BigInt(s.cursor));
  const bCursors = reader.seen.filter((s) => s.id.startsWith('b')).map((s) => BigInt(s.cursor));
  expect(aCursors.every((a) => bCursors.every((b) => a < b))).toBe(true);
});

test('concurrent writers with slow commits and a polling reader: nothing missed, nothing seen twice', async () => {
  const connectionId = '2';
  const reader = createPollingReader(connectionId, 'Contact');
  let version = 0;
  let writing = true;

  async function writer(seed: number): Promise<void> {
    for (let batch = 0; batch < 15; batch++) {
      const ids = Array.from({ length: 1 + ((seed * 7 + batch) % 4) }, (_, k) => `r${(seed * 13 + batch * 5 + k * 3) % 24}`);
      const records = [...new Set(ids)].map((id) => ({ id, version: ++version }));
      await own.db.sql.begin(async (tx) => {
        await own.store.saveBatch({ connectionId, batch: saveBatchOf('Contact', records) }, tx);
        await sleep((seed * 11 + batch * 7) % 25); // commit late, sometimes after a later writer drew cursors
      });
    }
  }
  const readerLoop = (async () => { while (writing) { await reader.poll(); await sleep(3); } })();
  await Promise.all([writer(1), writer(2), writer(3), writer(4)]);
  writing = false;
  await readerLoop;
  while ((await reader.poll()) > 0);

  const cursors = reader.seen.map((s) => BigInt(s.cursor));
  expect(new Set(cursors).size).toBe(cursors.length); // no change seen twice
  for (let i = 1; i < cursors.length; i++) expect(cursors[i]! > cursors[i - 1]!).toBe(true);

  // The last version the reader saw of each record is the stored one: no final change was missed.
  const lastSeen = new Map(reader.seen.map((s) => [s.id, s.version]));
  const stored = await own.db.sql<{ id: string; version: number }[]>`select id, (data->>'version')::int as version from records where connection_id = ${connectionId}`;
  expect(stored.length).toBeGreaterThan(10);
  expect(Object.fromEntries(lastSeen)).toEqual(Object.fromEntries(stored.map((r) => [r.id, r.version])));
});
