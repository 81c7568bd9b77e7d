/**
 * What one sync-queue claim and completion cost Postgres and this process, with pg-boss's SQL sent
 * as text (pg-boss's own adapter over postgres.js: every statement parsed and planned, and first
 * described, each time) beside Ferry's adapter (host/queue/pg-boss-db.ts: statements prepared on
 * their second use). Same database, same jobs (stately, grouped, claimed with the sync queue's
 * 256 cap tiers, one at a time), alternating rounds so the machine's load falls on both alike.
 * CPU from /proc (user + system), per job.
 *
 * Run: flock /tmp/ferry-bench.lock npx node bench/scheduler/claims.ts   (BENCH_JOBS=2000, BENCH_ROUNDS=2)
 */
import { loadavg } from 'node:os';
import { fromBunSql, PgBoss, type Db } from 'pg-boss';
import { connectDatabase } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { pgBossDb } from '../../host/queue/pg-boss-db.ts';
import { MAX_ENV_CONCURRENCY } from '../../host/queue/queue.ts';
import { backendsOf, snapshot, used } from '../ingest/cpu-time.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';

const JOBS = Number(process.env.BENCH_JOBS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const QUEUE = 'bench-claims';
const TIERS = Object.fromEntries(Array.from({ length: MAX_ENV_CONCURRENCY }, (_, i) => [`cap${i + 1}`, i + 1]));
const logger = createLogger({ level: 'silent' });
const db = await createBenchDatabase(logger);

async function round(adapter: 'text' | 'prepared'): Promise<{ postgresMs: number; clientMs: number }> {
  const client = await connectDatabase({ databaseUrl: db.url, logger, maxConnections: 2 });
  try {
    const boss = new PgBoss({ db: adapter === 'text' ? fromBunSql(client.sql as unknown as Parameters<typeof fromBunSql>[0]) as Db : pgBossDb(client.sql), schema: 'pgboss', supervise: false, schedule: false, migrate: true });
    boss.on('error', () => {});
    await boss.start();
    await boss.createQueue(QUEUE, { policy: 'stately' }).catch(() => {});
    await boss.insert(QUEUE, Array.from({ length: JOBS }, (_, i) => ({ data: { i }, singletonKey: `pair-${i}`, priority: -i, group: { id: String(i % 3), tier: 'cap20' } })));
    const before = snapshot(await backendsOf(client.sql));
    const cpu = process.cpuUsage();
    let claimed = 0;
    for (;;) {
      const [job] = await boss.fetch(QUEUE, { batchSize: 1, groupConcurrency: { default: 20, tiers: TIERS } } as Parameters<PgBoss['fetch']>[1]);
      if (!job) break;
      await boss.complete(QUEUE, [job.id]);
      claimed++;
    }
    const postgresMs = used(before, await backendsOf(client.sql));
    const spent = process.cpuUsage(cpu);
    if (claimed !== JOBS) throw new Error(`claimed ${claimed} of ${JOBS} jobs`);
    await boss.stop({ graceful: false, timeout: 1_000 });
    await client.sql`delete from pgboss.job where name = ${QUEUE}`;
    return { postgresMs: postgresMs / JOBS, clientMs: (spent.user + spent.system) / 1000 / JOBS };
  } finally {
    await client.close();
  }
}

try {
  process.stdout.write(`${JOBS} jobs claimed and completed one at a time, ${ROUNDS} alternating rounds per adapter\n\n| adapter | Postgres CPU per job | client CPU per job | load average |\n|---|---|---|---|\n`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const adapter of ['text', 'prepared'] as const) {
      const { postgresMs, clientMs } = await round(adapter);
      const label = adapter === 'text' ? "pg-boss's adapter, SQL as text (baseline)" : 'Ferry (host/queue/pg-boss-db.ts), prepared';
      process.stdout.write(`| ${label} | ${postgresMs.toFixed(2)} ms | ${clientMs.toFixed(2)} ms | ${loadavg()[0]!.toFixed(1)} |\n`);
    }
  }
} finally {
  await db.drop();
}
