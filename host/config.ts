/** Configuration, parsed once from the environment; the error lists every bad variable. */
import { z } from 'zod';

const bool = z.enum(['1', '0', 'true', 'false']).transform((v) => v === '1' || v === 'true');

const ConfigSchema = z.object({
  DATABASE_URL: z.url().optional(),
  FERRY_DATA_DIR: z.string().default('.ferry'),
  FERRY_HOST: z.string().default('127.0.0.1'),
  /** The URL browsers reach this host at (behind a proxy or TLS terminator); the connect page's OAuth redirect URI is built from it. Default: the listening address. */
  FERRY_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  FERRY_PORT: z.coerce.number().int().min(0).max(65535).default(3003),
  /** Secret key of the default environment. Without it, a dev key is generated and kept in FERRY_DATA_DIR. */
  FERRY_SECRET_KEY: z.string().min(16).optional(),
  FERRY_ENVIRONMENT: z.string().default('dev'),
  /** Operator key for POST /environments; without it, environments are created only at start-up. */
  FERRY_ADMIN_KEY: z.string().min(16).optional(),
  /** Credential encryption keyring: base64 32-byte keys, comma-separated, the first encrypts. Without it, a dev key is generated and kept in FERRY_DATA_DIR. */
  FERRY_ENCRYPTION_KEY: z.string().min(40).optional(),
  /** When set, GET /metrics requires `Authorization: Bearer <this>`; without it /metrics is open (serve it on an internal network). */
  FERRY_METRICS_TOKEN: z.string().min(16).optional(),
  /** Behind a reverse proxy: the client's address is the last X-Forwarded-For entry (for the dashboard's sign-in limit). Only when that proxy sets the header. */
  FERRY_TRUST_PROXY: bool.optional(),
  /** api: serve HTTP only; worker: run syncs only; all: both (one process). */
  FERRY_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  /** Worker child processes that run isolates. */
  FERRY_RUNTIME_WORKERS: z.coerce.number().int().min(1).max(64).default(2),
  /**
   * Extra sync slots (each with its own runtime child) that start only runs of an environment
   * with no run going, so a tenant holding every regular slot cannot delay another's start.
   */
  FERRY_RESERVED_SLOTS: z.coerce.number().int().min(0).max(16).default(1),
  FERRY_SCHEDULER_TICK_MS: z.coerce.number().int().min(50).default(1000),
  /** A run whose process stops heartbeating this long is failed (its host died) and retried. */
  FERRY_STALE_RUN_MS: z.coerce.number().int().min(1000).default(60_000),
  /** A request's headers and body must have arrived within this (slow-loris bound). */
  FERRY_HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * How long an idle keep-alive socket stays open. Longer than a load balancer's idle timeout
   * (AWS ALB and nginx: 60 s), so the balancer, not Ferry, closes a socket it pools: Node's 5 s
   * closed sockets the balancer was about to reuse, and their requests failed ("socket hang up", 502).
   */
  FERRY_HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(75_000),
  /**
   * GET /records reads the page after a full one ahead, for the reader's next request
   * (host/api/routes/records-read-ahead.ts). Off by default: on a busy machine it measured slower
   * (docs/api.md, session 12); on until a quiet bench/api/read-ahead.ts shows it earns its place.
   */
  FERRY_RECORDS_READ_AHEAD: bool.default(false),
  /** First retry delay of a failed sync run (doubles each retry, with jitter). */
  FERRY_SYNC_RETRY_BASE_MS: z.coerce.number().int().min(10).default(30_000),
  /** Runs of one environment at once across all workers, unless its settings say otherwise. */
  FERRY_ENV_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(20),
  /** First retry delay of an outgoing webhook, in seconds (exponential backoff with jitter). */
  FERRY_WEBHOOK_RETRY_DELAY_S: z.coerce.number().int().min(1).default(5),
  /** How often each process deletes idle rate-limit buckets (host/proxy/rate-limit-prune.ts). */
  FERRY_RATE_LIMIT_PRUNE_MS: z.coerce.number().int().min(100).default(300_000),
  /** A bucket is deleted this long after it became idle (full, unblocked). */
  FERRY_RATE_LIMIT_IDLE_GRACE_MS: z.coerce.number().int().min(0).default(600_000),
  /** Start the local demo provider, deploy scripts/ and create a demo connection. */
  FERRY_DEMO: bool.optional(),
  FERRY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Every variable the configuration reads (docs/production.md documents each: test/docs/config-documented.test.ts). */
export const CONFIG_VARIABLES = Object.keys(ConfigSchema.shape) as Array<keyof Config>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
