/**
 * A tick queues its due pairs in batches, each its own transaction, so the first jobs are
 * claimable while the rest are still being queued (host/queue/queue.ts tick): every pair due is
 * queued once, up to the tick's limit, and the ranks that keep tenants fair run on across the
 * batches — one tenant's 250 due pairs are ranked 1 to 250, the other tenant's single pair 1,
 * as in one transaction. On real Postgres, with pg-boss's own queue.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { createQueue, SYNC_QUEUE } from '../../host/queue/queue.ts';
import { createParts } from '../../host/sync/parts.ts';
import { createSyncState } from '../../host/sync/sync-state.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function environmentWithDuePairs(name: string, pairs: number): Promise<string> {
  const [env] = await db.sql<{ id: string }[]>`insert into environments (name) values (${name}) returning id`;
  await db.sql`
    with c as (
      insert into connections (environment_id, connection_id, provider)
      select ${env!.id}, ${name} || '-' || n, 'p' from generate_series(1, ${pairs}) n returning id)
    insert into sync_state (connection_id, sync_name, frequency_ms, next_run_at) select id, 'items', 3600000, now() - interval '1 second' from c`;
  return env!.id;
}

test('a tick queues every due pair once, in batches, up to its limit, ranked per tenant across the batches', async () => {
  const big = await environmentWithDuePairs('big', 250);
  // Due after the big tenant's pairs: claimed in the tick's last batch.
  const small = await environmentWithDuePairs('small', 1);
  const queue = await createQueue({ sql: db.sql, logger: createLogger({ level: 'silent' }), supervise: false });
  try {
    expect(await queue.tick(createSyncState(db.sql), createParts(db.sql), 200)).toBe(200);
    expect(await queue.tick(createSyncState(db.sql), createParts(db.sql), 200)).toBe(51);
    expect(await queue.tick(createSyncState(db.sql), createParts(db.sql), 200)).toBe(0);
    const jobs = await db.sql<{ environment: string; priority: number; n: number }[]>`
      select data->>'environmentId' as environment, priority, count(*)::int as n from pgboss.job
      where name = ${SYNC_QUEUE} group by 1, 2 order by 1, 2 desc`;
    const bigRanks = jobs.filter((j) => j.environment === big);
    // Ranks 1–200 from the first tick's two batches, 1–50 from the second's: each once per tick.
    expect(bigRanks.filter((j) => j.n === 2).map((j) => -j.priority)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(bigRanks.filter((j) => j.n === 1).map((j) => -j.priority)).toEqual(Array.from({ length: 150 }, (_, i) => i + 51));
    expect(jobs.filter((j) => j.environment === small)).toEqual([{ environment: small, priority: -1, n: 1 }]);
    const [keys] = await db.sql<{ jobs: number; pairs: number }[]>`
      select count(*)::int as jobs, count(distinct singleton_key)::int as pairs from pgboss.job where name = ${SYNC_QUEUE}`;
    expect(keys).toEqual({ jobs: 251, pairs: 251 });
  } finally {
    await queue.close();
  }
});
