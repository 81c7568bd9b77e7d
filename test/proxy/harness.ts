/** The proxy's real parts over a per-test database: connections (encrypted), providers, refresher, rate limiter, run calls. */
import { createConnections, type Credentials } from '../../host/connections/connections.ts';
import { createOAuthRefresher } from '../../host/connections/oauth-refresh.ts';
import { createProviders, type ProviderInput } from '../../host/connections/providers.ts';
import { createCipher, generateEncryptionKey, parseKeyring } from '../../host/crypto/cipher.ts';
import type { Sql } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { createProxy, type ProxyDeps } from '../../host/proxy/proxy.ts';
import { createRateLimiter } from '../../host/proxy/rate-limiter.ts';
import { createRunCalls } from '../../host/proxy/run-calls.ts';
import { createEnvironments } from '../../host/tenancy/environments.ts';

export const TEST_KEY = generateEncryptionKey();

export function proxyParts(sql: Sql, options: Partial<Pick<ProxyDeps, 'limits' | 'sleep' | 'lookup'>> & { key?: string } = {}) {
  const logger = createLogger({ level: 'silent' });
  const connections = createConnections(sql, createCipher(parseKeyring(options.key ?? TEST_KEY)));
  const providers = createProviders(sql);
  const calls = createRunCalls(sql);
  const refresher = createOAuthRefresher({ sql, connections, logger });
  const proxy = createProxy({ logger, connections, refresher, calls, rateLimiter: createRateLimiter(sql), ...options });
  return { connections, providers, calls, refresher, proxy };
}

export type ProxyParts = ReturnType<typeof proxyParts>;

/** An environment, a provider and a connection to it; returns the proxy target. */
export async function connect(sql: Sql, parts: ProxyParts, provider: ProviderInput, credentials: Credentials, connectionId = 'conn-1', connectionConfig: Record<string, unknown> = {}) {
  const env = await createEnvironments(sql).ensure('test');
  const saved = await parts.providers.upsert(env.id, provider);
  const { row } = await parts.connections.create(env.id, { connection_id: connectionId, provider: provider.name, credentials, connection_config: connectionConfig, metadata: null });
  return { environmentId: env.id, connection: row, target: { provider: saved, connection: row } };
}

/** A run row to hang recorded calls on. */
export async function startRun(sql: Sql, connectionId: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into runs (connection_id, script_name, kind, script_version, status, trigger) values (${connectionId}, 'test', 'action', 1, 'running', 'test') returning id`;
  return row!.id;
}

export const get = (endpoint: string, extra: Record<string, unknown> = {}) => ({ method: 'GET' as const, endpoint, params: {}, headers: {}, ...extra });
