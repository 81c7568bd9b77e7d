/**
 * The composition root: builds every part of the host from configuration and wires them
 * together. One process can be API and worker (`all`); in production they split (`api` on
 * stateless instances behind a load balancer, `worker` on as many machines as needed), all
 * against one Postgres.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { createRuntime } from '@ferry/runtime';
import { createActions } from './actions/index.ts';
import { createApi } from './api/app.ts';
import type { Config } from './config.ts';
import { createConnections, type OnReauthRequired } from './connections/connections.ts';
import { createOAuthRefresher } from './connections/oauth-refresh.ts';
import { authFailedAnnouncer } from './connect/auth-failed.ts';
import { createConnectFlow } from './connect/connect-flow.ts';
import { createOAuthClients } from './connect/oauth-clients.ts';
import { createConnectSessions } from './connect/sessions.ts';
import { createSignInLimit } from './dashboard/sign-in-limit.ts';
import { createCipher, generateEncryptionKey, parseKeyring } from './crypto/cipher.ts';
import { createProviders } from './connections/providers.ts';
import { connectDatabase } from './db/connect.ts';
import { guardedServerOptions, guardHttpServer } from './api/http-guards.ts';
import { migrate } from './db/migrate.ts';
import { createDeployer } from './deploy/deploy.ts';
import { createScripts } from './deploy/scripts.ts';
import type { Logger } from './logger.ts';
import type { LookupFn } from './proxy/address-guard.ts';
import { createProxy } from './proxy/proxy.ts';
import { createRateLimiter } from './proxy/rate-limiter.ts';
import { startRateLimitPruning } from './proxy/rate-limit-prune.ts';
import { createRunCalls } from './proxy/run-calls.ts';
import { createQueue } from './queue/queue.ts';
import { createRuns } from './runs/runs.ts';
import { createRecordStore } from './store/records.ts';
import { createSyncRunner } from './sync/run-sync.ts';
import { createSyncState } from './sync/sync-state.ts';
import { createParts } from './sync/parts.ts';
import { createScheduler } from './sync/scheduler.ts';
import { listenForWork } from './queue/work-notices.ts';
import { createWebhookOutbox, createWebhookSender } from './webhooks-out/deliveries.ts';
import { createEnvironments, generateSecretKey } from './tenancy/environments.ts';
import { createHttpApp } from './http-app.ts';
import { createWebhooksIn } from './webhooks-in/index.ts';


/** The API port is taken (another Ferry, or another program): the CLI and `ferry-server` exit 7 with this message. */
export class PortInUseError extends Error {
  readonly code = 'PORT_IN_USE';
  readonly port: number;
  constructor(host: string, port: number) {
    super(`port ${port} on ${host} is already in use (another Ferry or ferry dev?): stop that process, or choose another port with FERRY_PORT (ferry dev: --port)`);
    this.name = 'PortInUseError';
    this.port = port;
  }
}

export interface FerryHost {
  /** Base URL of the API (null for a worker-only process); the dashboard is at `${url}/dashboard`. */
  url: string | null;
  secretKey: string;
  environmentId: string;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * A secret from configuration or, in local development, one generated once and kept beside the
 * embedded data so it survives restarts.
 */
async function configuredOrGenerated(configured: string | undefined, dataDir: string, file: string, generate: () => string): Promise<string> {
  if (configured) return configured;
  const path = join(dataDir, file);
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing?.trim()) return existing.trim();
  await mkdir(dataDir, { recursive: true });
  const value = generate();
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return value;
}

/** Reserved slots serve the sync queue, so only hosts that run syncs keep their runtime children. */
const reservedSlots = (config: Config) => (config.FERRY_ROLE === 'api' ? 0 : config.FERRY_RESERVED_SLOTS);

export interface FerryHostOptions {
  /** The resolver under the proxy's address guard (tests map `acme.localhost`-style names to a local server). */
  proxyLookup?: LookupFn;
}

export async function startFerry(config: Config, logger: Logger, options: FerryHostOptions = {}): Promise<FerryHost> {
  const db = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: join(config.FERRY_DATA_DIR, 'pgdata'), logger });
  const closers: Array<() => Promise<unknown>> = [() => db.close()];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
  };
  try {
    const { sql } = db;
    await migrate(sql);

    const environments = createEnvironments(sql);
    const environment = await environments.ensure(config.FERRY_ENVIRONMENT);
    const secretKey = await configuredOrGenerated(config.FERRY_SECRET_KEY, config.FERRY_DATA_DIR, 'secret-key', generateSecretKey);
    await environments.addKey(environment.id, secretKey);

    const runtime = createRuntime({ workers: config.FERRY_RUNTIME_WORKERS + reservedSlots(config), logger });
    closers.push(() => runtime.close());

    const cipher = createCipher(parseKeyring(await configuredOrGenerated(config.FERRY_ENCRYPTION_KEY, config.FERRY_DATA_DIR, 'encryption-key', generateEncryptionKey)));
    const connections = createConnections(sql, cipher);
    // Plaintext rows from before encryption, and rows under a rotated-out key, move to the current key.
    const reencrypted = await connections.reencrypt();
    if (reencrypted > 0) logger.info({ reencrypted }, 'connection credentials re-encrypted under the current key');
    const providers = createProviders(sql);
    const runs = createRuns(sql);
    const scripts = createScripts(sql);
    const syncState = createSyncState(sql);
    const parts = createParts(sql);
    const records = createRecordStore({ sql, logger, embedded: db.embedded });
    const runCalls = createRunCalls(sql);
    // Bound once the queue exists: refused credentials (a refresh token, an API key) tell the app in the transaction that marks the connection.
    let announceReauth: OnReauthRequired = async () => {};
    const rateLimiter = createRateLimiter(sql);
    const pruning = startRateLimitPruning({ sql, logger, everyMs: config.FERRY_RATE_LIMIT_PRUNE_MS, graceMs: config.FERRY_RATE_LIMIT_IDLE_GRACE_MS });
    closers.push(() => pruning.stop());
    const onReauthRequired: OnReauthRequired = (tx, connection, reason) => announceReauth(tx, connection, reason);
    const proxy = createProxy({
      logger, connections, calls: runCalls, rateLimiter, onReauthRequired,
      refresher: createOAuthRefresher({ sql, connections, logger, onReauthRequired }),
      ...(options.proxyLookup && { lookup: options.proxyLookup }),
    });
    const deployer = createDeployer({ sql, runtime, syncState });

    const queue = await createQueue({ sql, logger, supervise: config.FERRY_ROLE !== 'api', defaultEnvironmentConcurrency: config.FERRY_ENV_CONCURRENCY, staleJobMs: config.FERRY_STALE_RUN_MS });
    closers.push(() => queue.close());
    const outbox = await createWebhookOutbox({ boss: queue.boss, retryDelaySeconds: config.FERRY_WEBHOOK_RETRY_DELAY_S });
    announceReauth = authFailedAnnouncer(outbox);
    const connectSessions = createConnectSessions(sql);
    const connectFlow = createConnectFlow({ sql, connections, providers, sessions: connectSessions, syncState, proxy, outbox, logger });
    const oauthClients = createOAuthClients(sql, cipher);
    // Action and incoming-webhook jobs count as lost after the same silence as a sync's.
    const jobHeartbeatSeconds = Math.max(10, Math.ceil(config.FERRY_STALE_RUN_MS / 1000));
    // Every run heartbeats well within the stale-run limit: an action or webhook run heartbeated
    // every 10 s whatever the limit, so under FERRY_STALE_RUN_MS=2000 one running over 2 s was
    // failed as WORKER_LOST by its own host's sweep while it ran.
    const runHeartbeatMs = Math.max(500, Math.floor(config.FERRY_STALE_RUN_MS / 6));
    const scriptRunDeps = { sql, runtime, records, runs, syncState, parts, scripts, connections, providers, proxy, logger, boss: queue.boss, outbox, jobHeartbeatSeconds, heartbeatMs: runHeartbeatMs };
    const actions = await createActions(scriptRunDeps);
    const webhooksIn = await createWebhooksIn(scriptRunDeps);

    if (config.FERRY_ROLE !== 'api') {
      const webhooksOut = await createWebhookSender({ sql, boss: queue.boss, logger, retryDelaySeconds: config.FERRY_WEBHOOK_RETRY_DELAY_S, outbox });
      await webhooksOut.work();
      const retry = { baseMs: config.FERRY_SYNC_RETRY_BASE_MS };
      const runner = createSyncRunner({
        sql, runtime, records, runs, syncState, parts, scripts, connections, providers, proxy, logger,
        retry, webhooks: webhooksOut, heartbeatMs: runHeartbeatMs,
      });
      queue.work(config.FERRY_RUNTIME_WORKERS, (job, jobId, executed, settle) => runner.run(job, jobId, executed, settle), reservedSlots(config));
      actions.actionQueue.work(config.FERRY_RUNTIME_WORKERS);
      closers.push(() => actions.actionQueue.stop(10_000));
      webhooksIn.workWebhooks(config.FERRY_RUNTIME_WORKERS);
      closers.push(() => webhooksIn.stopWebhooks(10_000));
      const scheduler = createScheduler({
        sql, runs, queue, syncState, parts, logger, retry, staleRunMs: config.FERRY_STALE_RUN_MS, tickMs: config.FERRY_SCHEDULER_TICK_MS,
        settleLostActions: (runIds, tx) => actions.actionQueue.settleLost(runIds, tx),
      });
      scheduler.start();
      closers.push(() => scheduler.stop());
      // The embedded PGlite has one connection, and LISTEN would take one of its own: it polls.
      if (!db.embedded) {
        const notices = await listenForWork(sql, logger, { due: () => scheduler.wake(), queued: () => queue.wake() });
        closers.push(() => notices.close());
      }
    }

    let url: string | null = null;
    const publicUrl = () => config.FERRY_PUBLIC_URL?.replace(/\/+$/, '') ?? url!;
    if (config.FERRY_ROLE !== 'worker') {
      const app = createApi({
        environments, logger, deployer, scripts, sql, connections, providers, syncState, parts, proxy, records, runs, runCalls,
        enqueueSync: (job) => queue.enqueue(job),
        ...actions, ...webhooksIn, adminKey: config.FERRY_ADMIN_KEY, metricsToken: config.FERRY_METRICS_TOKEN,
        connectSessions, connectFlow, oauthClients, cipher, publicUrl, webhookOutbox: outbox,
        recordsReadAhead: config.FERRY_RECORDS_READ_AHEAD,
      });
      const http = createHttpApp(app, logger, { signInLimit: createSignInLimit(rateLimiter), trustProxy: config.FERRY_TRUST_PROXY ?? false });
      const server: ServerType = await new Promise((resolve, reject) => {
        const serverOptions = guardedServerOptions(config.FERRY_HTTP_REQUEST_TIMEOUT_MS, config.FERRY_HTTP_KEEP_ALIVE_TIMEOUT_MS);
        const s = serve({ fetch: http.fetch, hostname: config.FERRY_HOST, port: config.FERRY_PORT, serverOptions }, () => resolve(s));
        guardHttpServer(s as HttpServer, { logger: logger.child({ module: 'http' }) });
        // Without a listener a taken port is an uncaught EADDRINUSE stack; callers get a typed error to explain.
        s.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(config.FERRY_HOST, config.FERRY_PORT) : err));
      });
      const { port } = server.address() as AddressInfo;
      url = `http://${config.FERRY_HOST}:${port}`;
      closers.push(() => new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }));
      logger.info({ url, role: config.FERRY_ROLE, embedded: db.embedded }, 'Ferry API listening');
    }

    return { url, secretKey, environmentId: environment.id, embedded: db.embedded, close };
  } catch (err) {
    await close();
    throw err;
  }
}
