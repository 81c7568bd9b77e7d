/**
 * A whole Ferry host (API + worker + runtime child processes) on a per-test database, and a
 * small client that talks to it over real HTTP.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost, type FerryHostOptions } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export const TEST_SECRET_KEY = 'fsk_test_secret_key_0123456789';

export interface TestFerry {
  db: TestDatabase;
  host: FerryHost;
  url: string;
  api: ApiClient;
  close(): Promise<void>;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export interface ApiClient {
  request<T = any>(method: string, path: string, body?: unknown, key?: string | null): Promise<ApiResponse<T>>;
  get<T = any>(path: string): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  put<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
}

export function createApiClient(url: string, defaultKey: string): ApiClient {
  const request = async (method: string, path: string, body?: unknown, key: string | null = defaultKey) => {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  return {
    request,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body ?? {}),
    put: (path, body) => request('PUT', path, body ?? {}),
  };
}

export async function startTestFerry(env: Record<string, string> = {}, options: FerryHostOptions = {}): Promise<TestFerry> {
  const db = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: db.url,
    FERRY_PORT: '0',
    FERRY_SECRET_KEY: TEST_SECRET_KEY,
    FERRY_RUNTIME_WORKERS: '2',
    FERRY_SCHEDULER_TICK_MS: '200',
    ...env,
  });
  const host = await startFerry(config, createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' }), options);
  return {
    db,
    host,
    url: host.url!,
    api: createApiClient(host.url!, TEST_SECRET_KEY),
    async close() {
      await host.close();
      await db.drop();
    },
  };
}

/**
 * startTestFerry, with `preload` (a module path) imported by the runtime worker children the
 * host starts now, as NODE_OPTIONS=--import does; children started later (replacing one) do not
 * get it. For a test that makes a worker misbehave from the inside.
 */
export async function startTestFerryWithWorkerPreload(preload: string, env: Record<string, string> = {}): Promise<TestFerry> {
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${before ?? ''} --import=${preload}`.trim();
  try {
    return await startTestFerry(env);
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for the newest run of a sync to have finished after `afterRunId`. */
export async function waitForRun(api: ApiClient, connectionId: string, sync: string, afterRunId = '0', timeoutMs = 30_000) {
  return waitFor(`a finished run of ${sync} after run ${afterRunId}`, async () => {
    const { body } = await api.get(`/runs?connection_id=${connectionId}&sync=${sync}&limit=1`);
    const run = body?.runs?.[0];
    if (run && BigInt(run.id) > BigInt(afterRunId) && run.status !== 'running') return run;
    return undefined;
  }, timeoutMs);
}

/** Reads every record after `cursor`, following next_cursor; returns them and the cursor to keep. */
export async function readAll(api: ApiClient, connectionId: string, model: string, cursor: string | null = null, limit = 100) {
  const records: any[] = [];
  for (;;) {
    const query = `/records?connection_id=${connectionId}&model=${model}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const { status, body } = await api.get(query);
    if (status !== 200) throw new Error(`GET ${query} → ${status}: ${JSON.stringify(body)}`);
    records.push(...body.records);
    if (body.next_cursor === null || body.records.length === 0) return { records, cursor };
    cursor = body.next_cursor;
  }
}

/**
 * Writes scripts (path → source) to the `scripts/` folder of a temporary project and deploys them
 * like `ferry deploy`: their errors name `scripts/<path>:line:col`.
 */
export async function deploySources(ferry: Pick<TestFerry, 'url'>, files: Record<string, string>, key = TEST_SECRET_KEY) {
  const project = await mkdtemp(join(tmpdir(), 'ferry-scripts-'));
  const dir = join(project, 'scripts');
  try {
    for (const [path, source] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), source);
    }
    return await deployScripts({ dir, url: ferry.url, key });
  } finally {
    await rm(project, { recursive: true, force: true });
  }
}

/** Worker child processes of the runtime in this process (a host under test runs here). */
export function workerChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('runtime/worker/main.ts')) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** The admin key of a test host started with FERRY_ADMIN_KEY: TEST_ADMIN_KEY (creates environments). */
export const TEST_ADMIN_KEY = 'fak_test_admin_key_0123456789';

export interface TestEnvironment {
  name: string;
  /** Its first secret key. */
  key: string;
  api: ApiClient;
  /** What POST /environments answered. */
  created: any;
}

/**
 * An environment of this attempt's own (`idForThisAttempt(base)`), made with the admin key: its
 * own deploys, providers, connections and runs, so a test that deploys, removes a provider or
 * rotates keys starts from nothing, whatever an earlier attempt (or test) left.
 */
export async function newEnvironment(ferry: Pick<TestFerry, 'url'>, base: string, options: { adminKey?: string; keyLabel?: string } = {}): Promise<TestEnvironment> {
  const name = idForThisAttempt(base);
  const created = await createApiClient(ferry.url, options.adminKey ?? TEST_ADMIN_KEY).post('/environments', { name, ...(options.keyLabel && { key_label: options.keyLabel }) });
  if (created.status !== 201) throw new Error(`POST /environments ${name} → ${created.status}: ${JSON.stringify(created.body)}`);
  const key: string = created.body.key.secret;
  return { name, key, api: createApiClient(ferry.url, key), created: created.body };
}

const issuedIds = new Map<string, number>();
/**
 * `base` the first time, then `base-2`, `base-3`…: for a test that creates something by name
 * (a connection, an environment, a provider), so that CI's retry of a failed attempt does not
 * collide with what that attempt created.
 */
export function idForThisAttempt(base: string): string {
  const n = (issuedIds.get(base) ?? 0) + 1;
  issuedIds.set(base, n);
  return n === 1 ? base : `${base}-${n}`;
}
