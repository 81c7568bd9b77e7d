/**
 * A killed part of a key split resumes from its checkpoint: a real worker host process (`node
 * host/main.ts`, FERRY_ROLE=worker) lists the repos, runs their parts and is killed with SIGKILL
 * once a part has saved a checkpoint. Another worker's scheduler fails the part's run as
 * WORKER_LOST and retries that part alone, from its checkpoint and without listing again; the
 * pass then succeeds with every record, and lastSyncDate is the start of the pass the killed
 * process began.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, deploySources, readAll, TEST_SECRET_KEY, waitFor, type ApiClient } from '../helpers/ferry.ts';
import { KEY_SPLIT_SYNC, startRepos, type ReposProvider } from './repos-provider.ts';

const MAIN = fileURLToPath(new URL('../../host/main.ts', import.meta.url));

let db: TestDatabase;
let provider: ReposProvider;
let dataDir: string;
let env: Record<string, string>;
const hosts: FerryHost[] = [];
let api: ApiClient;
let apiUrl: string;
let child: ChildProcess | null = null;
const logger = createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' });

function start(extra: Record<string, string>): Promise<FerryHost> {
  return startFerry(loadConfig({ ...env, FERRY_PORT: '0', ...extra }), logger).then((h) => (hosts.push(h), h));
}

beforeAll(async () => {
  provider = await startRepos(4, 9, 1_000);
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-split-keys-crash-'));
  env = {
    DATABASE_URL: db.url, FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
    FERRY_STALE_RUN_MS: '2000', FERRY_SYNC_RETRY_BASE_MS: '300', FERRY_SCHEDULER_TICK_MS: '200', FERRY_RUNTIME_WORKERS: '2',
  };
  // The API alone: until the child worker is killed, it is the only process running parts.
  const apiHost = await start({ FERRY_ROLE: 'api' });
  apiUrl = apiHost.url!;
  api = createApiClient(apiUrl, TEST_SECRET_KEY);
  await deploySources({ url: apiUrl }, { 'reposp/syncs/issues.ts': KEY_SPLIT_SYNC });
  expect((await api.put('/providers/reposp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
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

test('a key part killed mid-run resumes from its checkpoint elsewhere, without a new listing; the pass completes with every record', async () => {
  expect((await api.post('/connections', { connection_id: 'split-keys-crash', provider: 'reposp' })).status).toBe(201);
  const killedPart = await waitFor('a part to save a checkpoint', async () => {
    const [row] = await db.sql<{ part: string; checkpoint: { after: string }; run_id: string }[]>`
      select p.part, p.checkpoint, p.run_id from sync_parts p join runs r on r.id = p.run_id
      where p.checkpoint is not null and p.status = 'running' and r.status = 'running' limit 1`;
    return row;
  }, 60_000);
  process.kill(-child!.pid!, 'SIGKILL');
  await new Promise((resolve) => (child!.exitCode !== null || child!.signalCode !== null ? resolve(null) : child!.once('exit', resolve)));
  expect(child!.signalCode).toBe('SIGKILL');
  // What the killed part had saved when its process died (it may have moved on since the read above).
  const [atKill] = await db.sql<{ checkpoint: { after: string } }[]>`select checkpoint from sync_parts where part = ${killedPart.part}`;
  const [state] = await db.sql<{ last_sync_date: Date | null; pass_started_at: Date }[]>`select last_sync_date, pass_started_at from sync_state`;
  expect(state!.last_sync_date).toBeNull();

  provider.delayMs = 0;
  const requestsBefore = provider.requests.length;
  await start({ FERRY_ROLE: 'worker' });
  const lost = await waitFor('the killed part\'s run to be failed', async () => {
    const [row] = await db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${killedPart.run_id}`;
    return row?.status === 'failed' ? row : undefined;
  }, 60_000);
  expect(lost.error?.code).toBe('WORKER_LOST');

  const done = await waitFor('the pass to succeed', async () => {
    const [row] = await db.sql<{ last_sync_date: Date | null }[]>`select last_sync_date from sync_state`;
    return row?.last_sync_date ? row : undefined;
  }, 120_000);
  // The retry of the killed part started from its checkpoint, and asked the provider from there.
  const [retry] = await db.sql<{ resumed: boolean; fetch_checkpoint: unknown; status: string }[]>`
    select resumed, fetch_checkpoint, status from runs where part = ${killedPart.part} and id > ${killedPart.run_id} order by id limit 1`;
  expect(retry).toMatchObject({ resumed: true, fetch_checkpoint: atKill!.checkpoint, status: 'succeeded' });
  const since = provider.requests.slice(requestsBefore);
  const ofPart = since.filter((r) => r.path === `/repos/${encodeURIComponent(killedPart.part)}/issues`);
  expect(ofPart[0]?.after).toBe(atKill!.checkpoint.after);
  expect(since.some((r) => r.path === '/repos')).toBe(false);

  const records = (await readAll(api, 'split-keys-crash', 'Issue')).records;
  expect(records.map((r) => r.id).sort()).toEqual([...provider.repos.values()].flat().sort());
  expect(new Set(records.map((r) => r.repo))).toEqual(new Set(provider.repos.keys()));
  expect(done.last_sync_date!.getTime()).toBe(state!.pass_started_at.getTime());
  expect(await db.sql`select 1 from sync_parts`).toHaveLength(0);
}, 240_000);
