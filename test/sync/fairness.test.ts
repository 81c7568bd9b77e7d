/**
 * Fairness across environments and the per-environment cap, through real hosts: a big tenant's
 * many connections and a small tenant's single one all fall due before any worker is up (an
 * API-only host creates them); then one worker host with more slots than the big tenant's cap
 * starts. The small tenant's run starts before most of the big tenant's, and the big tenant
 * never has more runs at once than its cap (sampled from the runs table while they run). After
 * their first runs, the pairs are due again each on its own phase within the period.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { pairKey } from '../../host/queue/spread.ts';
import { nextPhasedRun, phaseOf } from '../../host/sync/frequency.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, TEST_SECRET_KEY, waitFor, type ApiClient } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const ADMIN_KEY = 'fak_test_admin_key_0123456789';
const BIG = 12;
const CAP = 2;
const SLOTS = 3; // worker slots: more than the cap, so only the cap can hold the big tenant to CAP

let db: TestDatabase;
let provider: ItemsProvider;
let dataDir: string;
let env: Record<string, string>;
const hosts: FerryHost[] = [];
let big: ApiClient;
let small: ApiClient;
let smallEnvId: string;
const logger = createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' });

function start(extra: Record<string, string>): Promise<FerryHost> {
  return startFerry(loadConfig({ ...env, FERRY_PORT: '0', ...extra }), logger).then((h) => (hosts.push(h), h));
}

beforeAll(async () => {
  provider = await startItemsProvider(12);
  provider.delayMs = 150; // each run reads 3 pages: long enough to overlap
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-fairness-'));
  env = {
    DATABASE_URL: db.url, FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
    FERRY_ADMIN_KEY: ADMIN_KEY, FERRY_SCHEDULER_TICK_MS: '200',
  };
  const apiHost = await start({ FERRY_ROLE: 'api' });
  big = createApiClient(apiHost.url!, TEST_SECRET_KEY);
  const created = await big.request('POST', '/environments', { name: 'small-tenant' }, ADMIN_KEY);
  expect(created.status).toBe(201);
  smallEnvId = String(created.body.id);
  small = createApiClient(apiHost.url!, created.body.key.secret);
  for (const client of [big, small]) {
    await deployScripts({ dir: FIXTURES, url: apiHost.url!, key: (client === big ? TEST_SECRET_KEY : created.body.key.secret) });
    expect((await client.put('/providers/fullp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  }
  expect((await big.put('/environment/settings', { max_concurrent_runs: CAP })).body.max_concurrent_runs).toBe(CAP);
  // The big tenant's pairs first, so the small one is the last due: order alone would run it last.
  for (let i = 0; i < BIG; i++) expect((await big.post('/connections', { connection_id: `big-${i}`, provider: 'fullp' })).status).toBe(201);
  expect((await small.post('/connections', { connection_id: 'small-0', provider: 'fullp' })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const h of hosts.reverse()) await h.close();
  await db?.drop();
  await provider?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('the small tenant\'s run starts before most of the big tenant\'s; the big tenant never has more than its cap running', async () => {
  const [bigEnv] = await db.sql<{ environment_id: string }[]>`select environment_id from connections where connection_id = 'big-0'`;
  await start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: String(SLOTS) });

  const samples: number[] = [];
  const finished = await waitFor('every first run to finish', async () => {
    const [row] = await db.sql<{ running: number; done: number }[]>`
      select count(*) filter (where r.status = 'running' and c.environment_id = ${bigEnv!.environment_id})::int as running,
             count(*) filter (where r.status <> 'running')::int as done
      from runs r join connections c on c.id = r.connection_id`;
    samples.push(row!.running);
    return row!.done >= BIG + 1 ? row : undefined;
  }, 120_000);
  expect(finished.done).toBe(BIG + 1);
  // Sampled many times while the big tenant's runs ran: never above the cap (3 slots could run 3).
  expect(samples.length).toBeGreaterThan(5);
  expect(Math.max(...samples), `running samples: ${samples.join(',')}`).toBeLessThanOrEqual(CAP);
  expect(Math.max(...samples)).toBeGreaterThan(0);

  const runs = await db.sql<{ environment_id: string; started_at: Date; status: string }[]>`
    select c.environment_id, r.started_at, r.status from runs r join connections c on c.id = r.connection_id order by r.started_at, r.id`;
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  const smallAt = runs.findIndex((r) => String(r.environment_id) === smallEnvId);
  expect(smallAt).toBeGreaterThanOrEqual(0);
  // Ranked first in its environment, it starts ahead of most of the big tenant's runs. (A worker
  // slot fetches 2 jobs and runs them in turn, so one big run may go first on another slot.)
  expect(smallAt, `start order: ${runs.map((r) => (String(r.environment_id) === smallEnvId ? 'S' : 'b')).join('')}`).toBeLessThan(BIG / 2);
}, 180_000);

test('after its first run each pair is due again on its own phase within the hour, not all in the same second', async () => {
  const HOUR = 3_600_000;
  const rows = await db.sql<{ connection_id: string; scheduled_for: Date; next_run_at: Date }[]>`
    select s.connection_id::text as connection_id, r.scheduled_for, s.next_run_at
    from sync_state s join runs r on r.connection_id = s.connection_id and r.script_name = s.sync_name and r.trigger = 'schedule'`;
  expect(rows).toHaveLength(BIG + 1);
  for (const r of rows) {
    const expected = nextPhasedRun(r.scheduled_for.getTime() + HOUR, HOUR, phaseOf(pairKey(r.connection_id, 'people'), HOUR));
    expect(r.next_run_at.getTime()).toBe(expected);
  }
  // Created within seconds of each other, they now fall due across the hour.
  const seconds = new Set(rows.map((r) => Math.floor(r.next_run_at.getTime() / 1000)));
  expect(seconds.size).toBe(rows.length);
  const times = rows.map((r) => r.next_run_at.getTime());
  expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(10 * 60_000);
});
