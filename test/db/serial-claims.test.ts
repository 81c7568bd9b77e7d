/**
 * A claim of the sync queue runs holding the claim lock (host/queue/serial-claims.ts), so two
 * workers cannot both admit a run over an environment's cap. The lock is sent together with the
 * claim (one round trip); this checks that the claim still runs after the lock: while another
 * session holds the lock, a claim waits on it and takes nothing, and takes its job once the lock
 * is released. And a claim whose COMMIT went through unseen is recovered from the claim's own
 * rows, whatever the shape of pg-boss's statement: only recognising it as a claim reads its text.
 */
import { randomUUID } from 'node:crypto';
import postgres from '@ferry/postgres';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectDatabase, type Database } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { claimName, serialClaimsDb } from '../../host/queue/serial-claims.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { commandComplete, startDroppingProxy } from '../helpers/dropping-proxy.ts';
import { idForThisAttempt } from '../helpers/ferry.ts';

let db: TestDatabase;
let client: Database;
let control: postgres.Sql;
beforeAll(async () => {
  db = await createTestDatabase();
  client = await connectDatabase({ databaseUrl: db.url, logger: createLogger({ level: 'silent' }), maxConnections: 1 });
  control = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'claims-test-control' } });
});
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await client?.close();
  await db?.drop();
});

test('a claim waits for the claim lock and takes its job only once the lock is free', async () => {
  const queue = idForThisAttempt('claims-q').replace(/[^a-z0-9-]/g, '-');
  const boss = new PgBoss({ db: serialClaimsDb(client.sql, queue), schema: 'pgboss', supervise: false, schedule: false, migrate: true });
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue(queue);
    const options = { batchSize: 1, groupConcurrency: { default: 20, tiers: { cap1: 1 } } } as Parameters<PgBoss['fetch']>[1];
    // Claims of an empty queue first, so the claim's statement is prepared (pg-boss-db.ts): a
    // first use waits for its Describe before it executes, whatever the order it was sent in.
    for (let i = 0; i < 3; i++) expect(await boss.fetch(queue, options)).toEqual([]);
    await boss.insert(queue, [{ data: { n: 1 }, group: { id: 'env-1', tier: 'cap1' } }]);
    const jobState = async () => (await control<{ state: string }[]>`select state::text as state from pgboss.job where name = ${queue}`)[0]?.state;
    let claim: Promise<unknown> | undefined;
    const holding = control.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext(${claimName(queue)}))`;
      claim = boss.fetch(queue, options);
      // The claiming session is blocked on the lock: it has taken nothing meanwhile.
      await expect.poll(async () => (await tx<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'ferry' and wait_event_type = 'Lock' and wait_event = 'advisory'`)[0]!.n, { timeout: 20_000 }).toBe(1);
      // Not claimed meanwhile, not even uncommitted: the job's row is not locked by the claim.
      expect(await tx`select 1 from pgboss.job where name = ${queue} and state = 'created' for update skip locked`).toHaveLength(1);
    });
    await holding;
    const [job] = (await claim) as Array<{ data: { n: number } }>;
    expect(job?.data).toEqual({ n: 1 });
    expect(await jobState()).toBe('active');
  } finally {
    await boss.stop({ graceful: false, timeout: 1_000 });
  }
});

test('a claim committed unseen is recovered from its own rows, whatever the shape of its statement', async () => {
  const queue = idForThisAttempt('claims-shape').replace(/[^a-z0-9-]/g, '-');
  const boss = new PgBoss({ db: serialClaimsDb(client.sql, queue), schema: 'pgboss', supervise: false, schedule: false, migrate: true });
  boss.on('error', () => {});
  await boss.start();
  const proxy = await startDroppingProxy(db.url, { client: Buffer.from(claimName(queue)), server: commandComplete('UPDATE 1') });
  const proxied = await connectDatabase({ databaseUrl: proxy.url(db.url), logger: createLogger({ level: 'silent' }), maxConnections: 1 });
  try {
    await boss.createQueue(queue);
    const id = randomUUID();
    await boss.insert(queue, [{ id, data: { n: 2 } }]);
    // A claim as another pg-boss release might write it: an aliased table, other columns back, a
    // trailing comment. The recovery that parsed pg-boss's statement threw on this one.
    const reshaped = `
      WITH next AS (SELECT id FROM pgboss.job WHERE name = '${queue}' AND state < 'active' ORDER BY created_on LIMIT 1 FOR UPDATE SKIP LOCKED)
      UPDATE pgboss.job AS claimed SET state = 'active', started_on = pgboss.job_now(), heartbeat_on = pgboss.job_now()
      FROM next WHERE claimed.name = '${queue}' AND claimed.id = next.id
      RETURNING claimed.id, claimed.data AS "payload" -- claimed`;
    proxy.armed = true;
    const result = await serialClaimsDb(proxied.sql, queue).executeSql(reshaped, []);
    expect(proxy.dropped).toBe(1);
    expect(result.rows).toEqual([{ id, payload: { n: 2 } }]);
    expect(await control`select state::text from pgboss.job where name = ${queue}`).toEqual([{ state: 'active' }]);
  } finally {
    await proxied.close();
    await proxy.close();
    await boss.stop({ graceful: false, timeout: 1_000 });
  }
});
