/**
 * What a connect session does: checks the provider is allowed, verifies credentials with the
 * provider's declared request, and saves the connection — credentials, connection_config,
 * sync schedules, the spent session and the app's event — in one transaction. A reconnect
 * replaces the credentials of the connection the session names and keeps its records and sync
 * state. Nothing is written when any step fails, except the auth_failed event.
 */
import { randomUUID } from 'node:crypto';
import type { EndUser, EventError } from '@ferry/client/webhook-events';
import type { ErrorIssue } from '../api/errors.ts';
import type { ConnectionRow, Connections, Credentials } from '../connections/connections.ts';
import type { Provider, Providers } from '../connections/providers.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import type { Proxy } from '../proxy/proxy.ts';
import type { SyncState } from '../sync/sync-state.ts';
import type { WebhookOutbox } from '../webhooks-out/deliveries.ts';
import type { ConnectSession, ConnectSessions } from './sessions.ts';

/** A refusal the end user (or the app) must see; `status` is its HTTP status. */
export class ConnectError extends Error {
  readonly code: string;
  readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 422 | 502;
  /** For a 400: the offending fields, as the API's error shape names them. */
  readonly issues: ErrorIssue[] | undefined;
  constructor(status: ConnectError['status'], code: string, message: string, issues?: ErrorIssue[]) {
    super(message);
    this.name = 'ConnectError';
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

export interface ConnectFlowDeps {
  sql: Sql;
  connections: Connections;
  providers: Providers;
  sessions: ConnectSessions;
  syncState: SyncState;
  proxy: Proxy;
  outbox: Pick<WebhookOutbox, 'publish'>;
  logger: Logger;
}

export const endUserOf = (s: Pick<ConnectSession, 'end_user_id' | 'end_user_org_id'>): EndUser => ({ id: s.end_user_id, org_id: s.end_user_org_id });

export function createConnectFlow(deps: ConnectFlowDeps) {
  const log = deps.logger.child({ module: 'connect' });

  /** The provider, if this session may connect it (and, for a reconnect, it is the connection's). */
  async function providerFor(session: ConnectSession, name: string): Promise<Provider> {
    if (session.allowed_providers && !session.allowed_providers.includes(name)) {
      throw new ConnectError(403, 'PROVIDER_NOT_ALLOWED', `this session may connect ${session.allowed_providers.join(', ')}, not ${name}`);
    }
    const provider = await deps.providers.get(session.environment_id, name);
    if (!provider) throw new ConnectError(404, 'UNKNOWN_PROVIDER', `provider "${name}" is not configured`);
    if (session.reconnect_connection_id) {
      const existing = await reconnectTarget(deps.sql, session);
      if (existing.provider !== name) throw new ConnectError(403, 'PROVIDER_NOT_ALLOWED', `connection ${existing.connection_id} is a ${existing.provider} connection`);
    }
    return provider;
  }

  async function reconnectTarget(db: Sql | TransactionSql, session: ConnectSession): Promise<ConnectionRow> {
    const [row] = await db<ConnectionRow[]>`
      select id, environment_id, connection_id, provider, connection_config, metadata, auth_status, auth_error, end_user_id, end_user_org_id, created_at, updated_at
      from connections where environment_id = ${session.environment_id} and connection_id = ${session.reconnect_connection_id}`;
    if (!row) throw new ConnectError(404, 'NOT_FOUND', `connection "${session.reconnect_connection_id}" not found`);
    if (row.end_user_id !== null && row.end_user_id !== session.end_user_id) {
      throw new ConnectError(403, 'END_USER_MISMATCH', `connection "${row.connection_id}" belongs to another end user`);
    }
    return row;
  }

  /** Sends the provider's verification request with the candidate credentials; refuses them unless it answers as declared. */
  async function verify(session: ConnectSession, provider: Provider, credentials: Credentials, connectionConfig: Record<string, unknown>): Promise<void> {
    const check = provider.connect?.verification;
    if (!check) return;
    const target = { provider, connection: { id: `connect-${session.id}`, connection_id: `connect-session-${session.id}`, environment_id: session.environment_id, connection_config: connectionConfig } };
    let status: number;
    try {
      ({ status } = await deps.proxy.request(target, { method: check.method, endpoint: check.endpoint, params: {}, headers: {}, retries: 0 }, { credentials }));
    } catch (err) {
      throw new ConnectError(502, 'VERIFICATION_FAILED', `could not reach ${provider.display_name ?? provider.name} to check the credentials: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!check.success_statuses.includes(status)) {
      throw new ConnectError(422, 'INVALID_CREDENTIALS', `${provider.display_name ?? provider.name} refused these credentials (${check.method} ${check.endpoint} answered HTTP ${status})`);
    }
  }

  /** Saves (or, for a reconnect, repairs) the connection and spends the session, atomically. */
  async function save(session: ConnectSession, provider: Provider, credentials: Credentials, connectionConfig: Record<string, unknown>): Promise<{ connection_id: string; reconnected: boolean }> {
    const result = await deps.sql.begin(async (tx) => {
      let connectionId: string;
      let reconnected = false;
      if (session.reconnect_connection_id) {
        const existing = await reconnectTarget(tx, session);
        connectionId = existing.connection_id;
        reconnected = true;
        await deps.connections.saveCredentials(existing.id, credentials, tx);
        await tx`
          update connections set auth_status = 'ok', auth_error = null,
            connection_config = connection_config || ${JSON.stringify(connectionConfig)}::text::jsonb,
            end_user_id = ${session.end_user_id}, end_user_org_id = ${session.end_user_org_id}
          where id = ${existing.id}`;
        // Syncs deployed since the connection was made get their schedules; existing state is kept.
        await deps.syncState.ensureForConnection(tx, { environmentId: session.environment_id, connectionId: existing.id, provider: provider.name });
        // Those the scheduler passed over while it needed re-authorisation run now.
        await deps.syncState.resumeAfterReauth(tx, existing.id);
      } else {
        connectionId = `conn_${randomUUID()}`;
        const { row } = await deps.connections.create(session.environment_id, {
          connection_id: connectionId, provider: provider.name, credentials, connection_config: connectionConfig, metadata: null,
        }, tx);
        await tx`update connections set end_user_id = ${session.end_user_id}, end_user_org_id = ${session.end_user_org_id} where id = ${row.id}`;
        await deps.syncState.ensureForConnection(tx, { environmentId: session.environment_id, connectionId: row.id, provider: provider.name });
      }
      if (!(await deps.sessions.consume(tx, session.id, connectionId))) {
        throw new ConnectError(410, 'SESSION_USED', 'this connect session was already used or has expired');
      }
      await deps.outbox.publish(tx, session.environment_id, [{
        type: reconnected ? 'connection.reconnected' : 'connection.created', from: 'ferry',
        connection_id: connectionId, provider: provider.name, end_user: endUserOf(session),
      }]);
      return { connection_id: connectionId, reconnected };
    });
    log.info({ session: session.id, connection: result.connection_id, provider: provider.name, reconnected: result.reconnected }, 'connection saved through connect');
    return result;
  }

  /** Tells the app a connect attempt failed (nothing else is written). */
  async function authFailed(session: ConnectSession, provider: string, error: EventError): Promise<void> {
    await deps.sql.begin((tx) => deps.outbox.publish(tx, session.environment_id, [{
      type: 'connection.auth_failed', from: 'ferry', connection_id: session.reconnect_connection_id, provider, end_user: endUserOf(session), error,
    }]));
    log.info({ session: session.id, provider, code: error.code }, 'connect attempt failed');
  }

  return { providerFor, verify, save, authFailed };
}
export type ConnectFlow = ReturnType<typeof createConnectFlow>;
