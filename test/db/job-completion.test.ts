/**
 * A sync run's settle completes its queue job in its own statement (host/queue/slots.ts
 * jobCompletion, beside the run's finish): that completion must leave a job exactly as pg-boss's
 * own completion of a fetched job does, and complete nothing else — not when its condition is
 * false, not another attempt of the job (a job claimed again after its worker was lost), not a
 * job no longer active. On real Postgres with pg-boss's own schema.
 */
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pgBossDb } from '../../host/queue/pg-boss-db.ts';
import { jobCompletion } from '../../host/queue/slots.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
let boss: PgBoss;
const QUEUE = 'completion-q';
beforeAll(async () => {
  db = await createTestDatabase();
  boss = new PgBoss({ db: pgBossDb(db.sql), schema: 'pgboss', supervise: false, schedule: false, migrate: true });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue(QUEUE, { policy: 'stately', retryLimit: 0 });
});
afterAll(async () => {
  await boss?.stop({ graceful: false, timeout: 1_000 });
  await db?.drop();
});

/** The job's row as JSON, without what differs between two jobs sent and fetched together (id, key, completion time). */
async function rowOf(id: string): Promise<Record<string, unknown>> {
  const [row] = await db.sql<{ row: Record<string, unknown> }[]>`
    select to_jsonb(j) - 'id' - 'singleton_key' - 'data' - 'completed_on' as row from pgboss.job j where id = ${id}::uuid`;
  return row!.row;
}

test("the settle's completion leaves a fetched job as pg-boss's completion does", async () => {
  await boss.insert(QUEUE, ['a', 'b'].map((k) => ({ data: { k }, singletonKey: k, group: { id: 'env-1', tier: 'cap2' } })));
  const jobs = await boss.fetch<{ k: string }>(QUEUE, { batchSize: 2 });
  expect(jobs).toHaveLength(2);
  const [byPgBoss, byUs] = jobs as [typeof jobs[0], typeof jobs[0]];
  await boss.complete(QUEUE, [byPgBoss]);
  const completed = await db.sql`${jobCompletion(db.sql, QUEUE, byUs, db.sql`true`)} returning id`;
  expect(completed).toHaveLength(1);
  expect(await rowOf(byUs.id)).toEqual(await rowOf(byPgBoss.id));
  expect((await rowOf(byUs.id)).state).toBe('completed');
  const [times] = await db.sql<{ n: number }[]>`select count(*)::int as n from pgboss.job where name = ${QUEUE} and completed_on is not null`;
  expect(times!.n).toBe(2);
});

test('it completes nothing when its condition is false, for another attempt of the job, or once the job is settled', async () => {
  await boss.insert(QUEUE, [{ data: { k: 'c' }, singletonKey: 'c' }]);
  const [job] = await boss.fetch<{ k: string }>(QUEUE, { batchSize: 1 });
  expect(job).toBeDefined();
  expect(await db.sql`${jobCompletion(db.sql, QUEUE, job!, db.sql`false`)} returning id`).toHaveLength(0);
  expect(await db.sql`${jobCompletion(db.sql, QUEUE, { ...job!, retryCount: job!.retryCount + 1 }, db.sql`true`)} returning id`).toHaveLength(0);
  expect(await db.sql`${jobCompletion(db.sql, 'another-queue', job!, db.sql`true`)} returning id`).toHaveLength(0);
  expect((await rowOf(job!.id)).state).toBe('active');
  await boss.fail(QUEUE, [job!.id], { message: 'worker lost' });
  expect(await db.sql`${jobCompletion(db.sql, QUEUE, job!, db.sql`true`)} returning id`).toHaveLength(0);
  expect((await rowOf(job!.id)).state).toBe('failed');
});
