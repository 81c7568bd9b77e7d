/**
 * A killed worker's fetched-but-not-started job (a slot fetches FETCH_BATCH = 2) must not block
 * its pair: a real worker host (`node host/main.ts`, FERRY_ROLE=worker, one runtime slot) takes
 * two due pairs' jobs, starts one (slow provider) and is killed with SIGKILL. The job it never
 * started has no run row; a surviving worker's scheduler fails it once its heartbeat lapses
 * (max(10 s, FERRY_STALE_RUN_MS)) and runs its pair at once. pg-boss's own supervisor took
 * 100–116 s here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { FETCH_BATCH, SYNC_QUEUE } from '../../host/queue/queue.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, TEST_SECRET_KEY, waitFor, type ApiClient } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const MAIN = fileURLToPath(new URL('../../host/main.ts', import.meta.url));
/** pg-boss's smallest job heartbeat, which FERRY_STALE_RUN_MS=2000 is raised to. */
const JOB_HEARTBEAT_MS = 10_000;

let db: TestDatabase;
let provider: ItemsProvider;
let dataDir: string;
let env: Record<string, string>;
const hosts: FerryHost[] = [];
let api: ApiClient;
let child: ChildProcess | null = null;
const logger = createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' });

function start(extra: Record<string, string>): Promise<FerryHost> {
  return startFerry(loadConfig({ ...env, FERRY_PORT: '0', ...extra }), logger).then((h) => (hosts.push(h), h));
}

beforeAll(async () => {
  provider = await startItemsProvider(12);
  provider.delayMs = 2_000; // every page is slow: the started run is mid-way when the kill comes
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-stranded-'));
  env = {
    DATABASE_URL: db.url, FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
    FERRY_STALE_RUN_MS: '2000', FERRY_SYNC_RETRY_BASE_MS: '300', FERRY_SCHEDULER_TICK_MS: '200', FERRY_RUNTIME_WORKERS: '1',
  };
  const apiHost = await start({ FERRY_ROLE: 'api' });
  api = createApiClient(apiHost.url!, TEST_SECRET_KEY);
  await deployScripts({ dir: FIXTURES, url: apiHost.url!, key: TEST_SECRET_KEY });
  expect((await api.put('/providers/fullp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  // Both pairs are due before any worker is up, so the first fetch takes both jobs.
  for (const id of ['stranded-1', 'stranded-2']) expect((await api.post('/connections', { connection_id: id, provider: 'fullp' })).status).toBe(201);
  child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, FERRY_ROLE: 'worker', FERRY_LOG_LEVEL: 'silent' },
    stdio: 'ignore', detached: true,
  });
}, 120_000);

afterAll(async () => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  for (const h of hosts.reverse()) await h.close();
  await db?.drop();
  await provider?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('a killed worker\'s fetched-but-not-started job is failed within its heartbeat and its pair runs at once elsewhere', async () => {
  expect(FETCH_BATCH).toBe(2); // the case exists only while a slot fetches more than it runs
  const running = await waitFor('one run started and both jobs held by the worker', async () => {
    const runs = await db.sql<{ id: string; connection_id: string }[]>`select id, connection_id from runs where status = 'running'`;
    const [{ active } = { active: 0 }] = await db.sql<{ active: number }[]>`select count(*)::int as active from pgboss.job where name = ${SYNC_QUEUE} and state = 'active'`;
    return runs.length === 1 && active === 2 ? runs[0] : undefined;
  }, 60_000);
  const [{ id: strandedConnection } = { id: '' }] = await db.sql<{ id: string }[]>`select id from connections where id <> ${running.connection_id}`;

  process.kill(-child!.pid!, 'SIGKILL');
  await new Promise((resolve) => (child!.exitCode !== null || child!.signalCode !== null ? resolve(null) : child!.once('exit', resolve)));
  const killedAt = Date.now();
  provider.delayMs = 0;
  await start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '2' });

  // The stranded pair had no run at all: its first run starts once the job's heartbeat lapses.
  const stranded = await waitFor('the stranded pair to run', async () => {
    const [row] = await db.sql<{ status: string; started_at: Date }[]>`
      select status, started_at from runs where connection_id = ${strandedConnection} order by id limit 1`;
    return row?.status === 'succeeded' ? row : undefined;
  }, 60_000);
  const waitedMs = stranded.started_at.getTime() - killedAt;
  expect(waitedMs).toBeLessThan(JOB_HEARTBEAT_MS + 8_000);
  const [job] = await db.sql<{ state: string; output: { message?: string } | null }[]>`
    select state, output from pgboss.job where name = ${SYNC_QUEUE} and data->>'connectionId' = ${strandedConnection} order by created_on limit 1`;
  expect(job).toMatchObject({ state: 'failed', output: { message: 'worker lost before the run started' } });

  // The killed run itself is failed by the stale-run sweep and retried.
  const lost = await waitFor('the killed run to be failed', async () => {
    const [row] = await db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${running.id}`;
    return row?.status === 'failed' ? row : undefined;
  }, 30_000);
  expect(lost.error?.code).toBe('WORKER_LOST');
  await waitFor('the killed pair to succeed on retry', async () => {
    const [row] = await db.sql`select 1 from runs where connection_id = ${running.connection_id} and status = 'succeeded'`;
    return row;
  }, 60_000);
}, 180_000);
