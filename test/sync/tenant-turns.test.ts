/**
 * One tenant cannot take the others' turns, with the default settings (2 worker slots, 20 runs
 * per environment, 1 reserved slot), on the real queue: tenant A's four syncs that only await a
 * 25 s timer take both regular slots; tenant B's one-record sync, due after them, still starts
 * before any of them has finished (it waited 48.7 s before), and A never holds more than the regular slots.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, deploySources, TEST_SECRET_KEY, waitFor, type ApiClient } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const ADMIN_KEY = 'fak_test_admin_key_0123456789';
const SLEEPERS = 4;

const sleeper = (i: number) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'waits 25 s',
  frequency: 'every hour',
  models: { Nap${i}: z.object({ id: z.string() }) },
  exec: async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 25_000));
    await ctx.batchSave([{ id: 'done' }], 'Nap${i}');
  },
});`;

const oneRecord = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'one record',
  frequency: 'every hour',
  models: { Thing: z.object({ id: z.string() }) },
  exec: async (ctx) => { await ctx.batchSave([{ id: 'one' }], 'Thing'); },
});`;

let db: TestDatabase;
let provider: ItemsProvider;
let dataDir: string;
let host: FerryHost;
let tenantA: ApiClient;
let tenantB: ApiClient;

beforeAll(async () => {
  provider = await startItemsProvider(1);
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-turns-'));
  // Only what a test needs to run (database, keys, port, a quick tick): the slot and cap defaults stay.
  host = await startFerry(loadConfig({
    DATABASE_URL: db.url, FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
    FERRY_ADMIN_KEY: ADMIN_KEY, FERRY_PORT: '0', FERRY_SCHEDULER_TICK_MS: '200',
  }), createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' }));
  tenantA = createApiClient(host.url!, TEST_SECRET_KEY);
  const created = await tenantA.request('POST', '/environments', { name: 'tenant-b' }, ADMIN_KEY);
  expect(created.status).toBe(201);
  tenantB = createApiClient(host.url!, created.body.key.secret);
  await deploySources({ url: host.url! }, Object.fromEntries(Array.from({ length: SLEEPERS }, (_, i) => [`items/syncs/sleeper-${i}.ts`, sleeper(i)])));
  await deploySources({ url: host.url! }, { 'items/syncs/one-record.ts': oneRecord }, created.body.key.secret);
  for (const client of [tenantA, tenantB]) {
    expect((await client.put('/providers/items', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await host?.close();
  await db?.drop();
  await provider?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const running = async (connectionId: string) => {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from runs r join connections c on c.id = r.connection_id
    where c.connection_id = ${connectionId} and r.status = 'running'`;
  return row!.n;
};

test('tenant B\'s one-record sync starts, without waiting for a turn, while tenant A\'s four 25 s syncs hold the regular slots', async () => {
  expect((await tenantA.post('/connections', { connection_id: 'a', provider: 'items' })).status).toBe(201);
  await waitFor('tenant A to hold both regular slots', async () => ((await running('a')) === 2 ? true : undefined), 30_000);

  const dueAt = Date.now();
  expect((await tenantB.post('/connections', { connection_id: 'b', provider: 'items' })).status).toBe(201);
  const samples: number[] = [];
  const run = await waitFor('tenant B\'s run to succeed', async () => {
    samples.push(await running('a'));
    const { body } = await tenantB.get('/runs?connection_id=b&sync=one-record&limit=1');
    const latest = body?.runs?.[0];
    return latest?.status === 'succeeded' ? latest : undefined;
  }, 30_000);
  // B did not wait for A's turn: it started before any of A's 25 s runs had finished (an order of
  // events, not a stopwatch: a loaded machine can take seconds to start any run).
  const startedAfterMs = new Date(run.started_at).getTime() - dueAt;
  const [firstOfA] = await db.sql<{ at: Date | null }[]>`
    select min(r.finished_at) as at from runs r join connections c on c.id = r.connection_id where c.connection_id = 'a'`;
  expect(firstOfA!.at === null || firstOfA!.at.getTime() > new Date(run.started_at).getTime(),
    `B started ${startedAfterMs} ms after it was due, A's first run finished at ${firstOfA!.at?.toISOString()}`).toBe(true);
  // A kept its two runs going meanwhile and took no third slot.
  expect(samples.length).toBeGreaterThan(0);
  expect(Math.max(...samples)).toBe(2);
  expect(await running('a')).toBe(2);
}, 120_000);
