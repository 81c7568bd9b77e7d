/**
 * pg-boss's statements run prepared over our client (host/queue/pg-boss-db.ts): a claim or a job
 * completion that comes back is a bind and an execute, not a parse and plan of its text each time
 * (bench/scheduler: ~2.1 ms of Postgres per claim). Checked on the server, in the session's own
 * pg_prepared_statements (one connection, so every statement runs in that session), and the
 * claims still take the right jobs. A text that varies each time is never prepared, and the
 * number prepared is bounded.
 */
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { MAX_PREPARED, pgBossDb } from '../../host/queue/pg-boss-db.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { idForThisAttempt } from '../helpers/ferry.ts';

let db: TestDatabase;
let client: Database;
beforeAll(async () => {
  db = await createTestDatabase();
  client = await connectDatabase({ databaseUrl: db.url, logger: createLogger({ level: 'silent' }), maxConnections: 1 });
});
afterAll(async () => {
  await client?.close();
  await db?.drop();
});

const preparedLike = async (fragment: string) => (await client.sql<{ n: number }[]>`
  select count(*)::int as n from pg_prepared_statements where statement like ${`%${fragment}%`}`)[0]!.n;

test('pg-boss claims and completions run as prepared statements, and claim the jobs in order', async () => {
  const queue = idForThisAttempt('prepared-q').replace(/[^a-z0-9-]/g, '-');
  const boss = new PgBoss({ db: pgBossDb(client.sql), schema: 'pgboss', supervise: false, schedule: false, migrate: true });
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue(queue);
    await boss.insert(queue, [1, 2, 3, 4].map((n) => ({ data: { n }, priority: 10 - n, group: { id: 'env-1', tier: 'cap2' } })));
    const claimed: number[] = [];
    for (let i = 0; i < 4; i++) {
      // As the sync queue claims (host/queue/queue.ts): one job, within its group's cap tier.
      const [job] = await boss.fetch<{ n: number }>(queue, { batchSize: 1, groupConcurrency: { default: 20, tiers: { cap2: 2 } } } as Parameters<PgBoss['fetch']>[1]);
      expect(job).toBeDefined();
      claimed.push(job!.data.n);
      await boss.complete(queue, [job!.id]);
    }
    expect(claimed).toEqual([1, 2, 3, 4]);
    expect(await boss.fetch(queue, { batchSize: 1 })).toEqual([]);
    expect(await preparedLike('SKIP LOCKED')).toBeGreaterThanOrEqual(1);
    expect(await preparedLike('completed_on')).toBeGreaterThanOrEqual(1);
    const states = await client.sql<{ state: string; n: number }[]>`
      select state::text as state, count(*)::int as n from pgboss.job where name = ${queue} group by state`;
    expect(states).toEqual([{ state: 'completed', n: 4 }]);
  } finally {
    await boss.stop({ graceful: false, timeout: 1_000 });
  }
});

test('a text used once is not prepared, and at most MAX_PREPARED texts are', async () => {
  const db2 = pgBossDb(client.sql);
  const marker = idForThisAttempt('marker').replace(/[^a-z0-9]/gi, '_');
  await db2.executeSql(`select $1::int as n /* ${marker} once */`, [1]);
  expect(await preparedLike(`${marker} once`)).toBe(0);
  for (let i = 0; i < MAX_PREPARED + 10; i++) {
    for (let use = 0; use < 2; use++) {
      const { rows } = await db2.executeSql(`select $1::int as n /* ${marker} ${i} */`, [i]);
      expect(rows).toEqual([{ n: i }]);
    }
  }
  const prepared = await preparedLike(marker);
  expect(prepared).toBeGreaterThan(0);
  expect(prepared).toBeLessThanOrEqual(MAX_PREPARED);
});
