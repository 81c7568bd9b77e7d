/**
 * What a sync run's start reads cost this process and Postgres: the eight reads a scheduled run
 * of a pair makes before it starts (connection, script, state, provider, caps, paused, split
 * going on; host/sync/run-sync.ts), each as a statement of its own, issued at once on the pool as
 * the host issued them before (the baseline), beside the same reads as one statement
 * (host/db/read-together.ts). Same database, same rows (the scheduler bench's no-op sync on a
 * connection), the host's pool of 10; alternating rounds so the machine's load falls on both
 * alike. CPU from /proc (user + system), per run's reads.
 *
 * Run: flock /tmp/ferry-bench.lock npx node bench/scheduler/start-reads.ts   (BENCH_READS=3000, BENCH_ROUNDS=3)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { createConnections } from '../../host/connections/connections.ts';
import { createProviders } from '../../host/connections/providers.ts';
import { createCipher, generateEncryptionKey, parseKeyring } from '../../host/crypto/cipher.ts';
import { connectDatabase } from '../../host/db/connect.ts';
import { readOne, readTogether, type RowRead } from '../../host/db/read-together.ts';
import { createScripts } from '../../host/deploy/scripts.ts';
import { createLogger } from '../../host/logger.ts';
import { limitCapsRead } from '../../host/runs/run-limits.ts';
import { startFerry } from '../../host/server.ts';
import { createParts } from '../../host/sync/parts.ts';
import { createSyncState } from '../../host/sync/sync-state.ts';
import { createApiClient } from '../../test/helpers/ferry.ts';
import { backendsOf, snapshot, used } from '../ingest/cpu-time.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';

const READS = Number(process.env.BENCH_READS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECRET = 'fsk_bench_start_reads_0123456789';
const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const logger = createLogger({ level: 'warn' });
const db = await createBenchDatabase(logger);
const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-start-reads-'));

try {
  // The scheduler bench's rows: a provider, a connection, the no-op sync deployed on it.
  const api = await startFerry(loadConfig({
    DATABASE_URL: db.url, FERRY_SECRET_KEY: SECRET, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
    FERRY_ROLE: 'api', FERRY_PORT: '0', FERRY_LOG_LEVEL: 'warn',
  }), logger);
  const client = createApiClient(api.url!, SECRET);
  if ((await client.put('/providers/noop', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status !== 200) throw new Error('PUT /providers/noop failed');
  if ((await client.post('/connections', { connection_id: 'c0', provider: 'noop' })).status !== 201) throw new Error('POST /connections failed');
  await deployScripts({ dir: FIXTURES, url: api.url!, key: SECRET });
  await api.close();

  // The worker host's pool (host/db/connect.ts: 10 connections), warmed before measuring.
  const host = await connectDatabase({ databaseUrl: db.url, logger, maxConnections: 10 });
  const { sql } = host;
  const [row] = await sql<{ id: string; environment_id: string }[]>`select id, environment_id from connections where connection_id = 'c0'`;
  const cipher = createCipher(parseKeyring(generateEncryptionKey()));
  const m = { connections: createConnections(sql, cipher), scripts: createScripts(sql), providers: createProviders(sql), syncState: createSyncState(sql), parts: createParts(sql) };
  const pair = { connectionId: row!.id, syncName: 'tick', variant: 'base' };
  const reads = (): Array<RowRead<unknown>> => [
    m.connections.byIdRead(row!.id),
    m.scripts.activeRead(row!.environment_id, 'noop', 'tick'),
    m.syncState.stateRead(row!.id, 'tick'),
    m.providers.providerRead(row!.environment_id, 'noop'),
    limitCapsRead(sql, row!.environment_id),
    m.syncState.connectionPausedRead(row!.id),
    m.parts.anyRead(pair),
  ];
  const ways = {
    apart: () => Promise.all(reads().map((read) => readOne(read))),
    together: () => readTogether(sql, reads()),
  };
  for (const way of Object.values(ways)) for (let i = 0; i < 200; i++) await way();
  const [apartRows, togetherRows] = [await ways.apart(), await ways.together()];
  if (JSON.stringify(apartRows) !== JSON.stringify(togetherRows)) throw new Error('the two ways read different rows');

  process.stdout.write(`${READS} runs' start reads (7 reads: connection, script, state, provider, caps, paused, split going on), ${ROUNDS} alternating rounds\n\n| way | this process's CPU per run | Postgres CPU per run | wall per run | load average |\n|---|---|---|---|---|\n`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, way] of Object.entries(ways)) {
      const backends = await backendsOf(sql);
      const before = snapshot(backends);
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < READS; i++) await way();
      const wall = performance.now() - started;
      const spent = process.cpuUsage(cpu);
      const postgresMs = used(before, [...new Set([...backends, ...(await backendsOf(sql))])]);
      const label = name === 'apart' ? 'a statement each, at once on the pool (baseline)' : 'one statement (read-together.ts)';
      process.stdout.write(`| ${label} | ${((spent.user + spent.system) / 1000 / READS).toFixed(3)} ms | ${(postgresMs / READS).toFixed(3)} ms | ${(wall / READS).toFixed(3)} ms | ${loadavg()[0]!.toFixed(1)} |\n`);
    }
  }
  await host.close();
} finally {
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
