/**
 * Several Ferry processes on one test database, as production runs them: an API-only host in
 * this process (it runs no syncs), more hosts here on demand, and worker hosts in processes of
 * their own (`node host/main.ts`, FERRY_ROLE=worker) that a test can kill or freeze. Each worker
 * leads its own process group, so a signal reaches its runtime children too, as losing a
 * machine would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { createApiClient, TEST_SECRET_KEY, type ApiClient } from './ferry.ts';

const MAIN = fileURLToPath(new URL('../../host/main.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** To the whole process group (SIGSTOP/SIGCONT freeze and wake it with its runtime children). */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL to the process group; resolves once the worker has exited. */
  kill(): Promise<void>;
}

export interface MultiHost {
  db: TestDatabase;
  /** The API-only host's URL and a client for it. */
  url: string;
  api: ApiClient;
  /** Another host in this process on the same database and settings (e.g. FERRY_ROLE=worker). */
  start(extra: Record<string, string>): Promise<FerryHost>;
  /** Closes a host from `start` before the others. */
  stop(host: FerryHost): Promise<void>;
  /** A worker host in a process of its own; `onStdout` receives its log lines (FERRY_LOG_LEVEL in `extra`, silent by default). */
  spawnWorker(extra?: Record<string, string>, onStdout?: (chunk: string) => void): WorkerProcess;
  close(): Promise<void>;
}

const running = (child: ChildProcess) => child.pid !== undefined && child.exitCode === null && child.signalCode === null;

/** Stale runs are found within 2 s and retried after 300 ms; one runtime slot per host unless `extra` says otherwise. */
export async function startMultiHost(extraEnv: Record<string, string> = {}): Promise<MultiHost> {
  const logger = createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' });
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-multi-host-'));
  const env: Record<string, string> = {
    DATABASE_URL: db.url, FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
    FERRY_STALE_RUN_MS: '2000', FERRY_SYNC_RETRY_BASE_MS: '300', FERRY_SCHEDULER_TICK_MS: '200', FERRY_RUNTIME_WORKERS: '1',
    ...extraEnv,
  };
  const hosts: FerryHost[] = [];
  const workers: ChildProcess[] = [];
  const start = async (extra: Record<string, string>) => {
    const host = await startFerry(loadConfig({ ...env, FERRY_PORT: '0', ...extra }), logger);
    hosts.push(host);
    return host;
  };

  async function close() {
    for (const child of workers) {
      if (!running(child)) continue;
      process.kill(-child.pid!, 'SIGCONT'); // a frozen worker must wake to die
      process.kill(-child.pid!, 'SIGKILL');
    }
    for (const host of hosts.reverse()) await host.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  }

  try {
    const apiHost = await start({ FERRY_ROLE: 'api' });
    return {
      db,
      url: apiHost.url!,
      api: createApiClient(apiHost.url!, TEST_SECRET_KEY),
      start,
      async stop(host) {
        await host.close();
        hosts.splice(hosts.indexOf(host), 1);
      },
      spawnWorker(extra = {}, onStdout) {
        const child = spawn(process.execPath, [MAIN], {
          env: { ...process.env, ...env, FERRY_ROLE: 'worker', FERRY_LOG_LEVEL: 'silent', ...extra },
          stdio: ['ignore', onStdout ? 'pipe' : 'ignore', 'ignore'], detached: true,
        });
        if (onStdout) child.stdout!.on('data', (chunk: Buffer) => onStdout(chunk.toString()));
        workers.push(child);
        return {
          child,
          signal: (signal) => process.kill(-child.pid!, signal),
          async kill() {
            const exited = new Promise((resolve) => (running(child) ? child.once('exit', resolve) : resolve(null)));
            process.kill(-child.pid!, 'SIGKILL');
            await exited;
          },
        };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
