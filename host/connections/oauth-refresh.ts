/**
 * OAuth2 access tokens kept usable: refreshed shortly before they expire and once after a 401.
 * Single-flight across processes: a refresh is claimed on the connection's row (an expiring,
 * named claim, not a lock held across the call, so no database connection waits on the token
 * endpoint) and the stored token is re-read after claiming, so a second caller waits for the
 * first one's token and never sends a refresh token the first one rotated away. A refresh token
 * the provider refuses (invalid_grant) marks the connection as needing re-authorisation.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { ReauthRequiredError, type ConnectionRef, type Connections, type Credentials, type OAuth2Credentials, type OnReauthRequired } from './connections.ts';
import { callTokenEndpoint, oauthErrorOf, TokenEndpointUnreachableError, TokenResponseSchema, type OAuth2Auth } from './token-endpoint.ts';

/** How often a caller waiting for another process's refresh looks for its result. */
const POLL_MS = 50;

export type { OAuth2Auth } from './token-endpoint.ts';

export class TokenRefreshError extends Error {
  readonly code = 'TOKEN_REFRESH_FAILED';
}

export function isExpiring(credentials: OAuth2Credentials, marginS: number, now = Date.now()): boolean {
  return credentials.expiresAt !== undefined && Date.parse(credentials.expiresAt) - marginS * 1000 <= now;
}

export function createOAuthRefresher(deps: { sql: Sql; connections: Connections; logger: Logger; timeoutMs?: number; onReauthRequired?: OnReauthRequired }) {
  const log = deps.logger.child({ module: 'oauth-refresh' });
  const timeoutMs = deps.timeoutMs ?? 30_000;
  // Outlives the token endpoint's timeout, so a live refresh never loses its claim.
  const claimMs = timeoutMs + 15_000;

  /**
   * Claims the connection's refresh for this call; false when another process holds a live
   * claim or the connection needs re-authorisation. One short statement: nothing is held after.
   */
  async function claim(id: string, token: string): Promise<boolean> {
    const rows = await deps.sql`
      update connections set refresh_claim = ${token}, refresh_claimed_until = now() + ${claimMs} * interval '1 millisecond'
      where id = ${id} and auth_status = 'ok' and (refresh_claimed_until is null or refresh_claimed_until < now())
      returning id`;
    return rows.length === 1;
  }

  /** Ends this call's claim; `write` (if given) runs in the same transaction, only while the claim is ours. */
  async function settle(id: string, token: string, write?: (tx: TransactionSql) => Promise<void>): Promise<boolean> {
    const release = async (db: Sql | TransactionSql) => (await db`
      update connections set refresh_claim = null, refresh_claimed_until = null
      where id = ${id} and refresh_claim = ${token} returning id`).length === 1;
    if (!write) return release(deps.sql);
    return deps.sql.begin(async (tx) => {
      if (!(await release(tx))) return false;
      await write(tx);
      return true;
    });
  }

  return {
    /**
     * Usable credentials for the connection. Refreshes when the token is within the provider's
     * margin of expiry, or when `rejectedAccessToken` (a token the provider just answered 401
     * to) is still the stored one. While another process refreshes, waits for its result.
     */
    async fresh(connection: ConnectionRef, auth: OAuth2Auth, rejectedAccessToken?: string): Promise<Credentials> {
      const needsRefresh = (c: Credentials) => c.type === 'oauth2' &&
        (rejectedAccessToken !== undefined ? c.accessToken === rejectedAccessToken : isExpiring(c, auth.refresh_margin_s));
      const waitUntil = Date.now() + claimMs + POLL_MS;
      for (;;) {
        const stored = await deps.connections.credentials(connection.id);
        if (!needsRefresh(stored)) return stored;
        const token = randomUUID();
        if (await claim(connection.id, token)) {
          try {
            return await refreshClaimed(connection, auth, token, needsRefresh, rejectedAccessToken);
          } finally {
            // Already settled when it wrote; otherwise (an error, nothing to do) free it now.
            await settle(connection.id, token).catch((err: unknown) => log.warn({ err, connection: connection.connection_id }, 'could not release the refresh claim; it expires on its own'));
          }
        }
        const status = await deps.connections.authStatus(connection.id);
        if (status === null) throw new TokenRefreshError(`connection ${connection.connection_id} no longer exists`);
        if (status.auth_status === 'reauth_required') throw new ReauthRequiredError(connection.connection_id, status.auth_error ?? 'the provider refused the refresh token');
        if (Date.now() > waitUntil) throw new TokenRefreshError('another process has been refreshing this token for too long');
        await sleep(POLL_MS);
      }
    },
  };

  async function markReauthRequired(tx: TransactionSql, connection: ConnectionRef, reason: string): Promise<void> {
    await deps.connections.markReauthRequired(connection.id, reason, tx);
    await deps.onReauthRequired?.(tx, connection, reason);
  }

  async function refreshClaimed(
    connection: ConnectionRef,
    auth: OAuth2Auth,
    token: string,
    needsRefresh: (c: Credentials) => boolean,
    rejectedAccessToken: string | undefined,
  ): Promise<Credentials> {
    // Another process may have refreshed between our read and our claim.
    const current = await deps.connections.credentials(connection.id);
    if (current.type !== 'oauth2' || !needsRefresh(current)) return current;
    // Client credentials need no refresh token: the client asks for a new access token.
    const clientCredentials = auth.grant === 'client_credentials' && current.clientId !== undefined;
    if (!current.refreshToken && !clientCredentials) {
      if (rejectedAccessToken === undefined) return current; // nothing to refresh with; try the token as it is
      const reason = 'the access token was refused and the connection has no refresh token';
      await settle(connection.id, token, (tx) => markReauthRequired(tx, connection, reason));
      throw new ReauthRequiredError(connection.connection_id, reason);
    }
    const grant: Record<string, string> = current.refreshToken
      ? { grant_type: 'refresh_token', refresh_token: current.refreshToken }
      : { grant_type: 'client_credentials', ...(auth.scopes.length > 0 && { scope: auth.scopes.join(auth.scope_separator) }) };
    let answer: { status: number; body: unknown };
    try {
      answer = await callTokenEndpoint(auth, current, grant, timeoutMs);
    } catch (err) {
      if (err instanceof TokenEndpointUnreachableError) throw new TokenRefreshError(err.message);
      throw err;
    }
    const { status: httpStatus, body } = answer;
    const parsed = TokenResponseSchema.safeParse(body);
    if (httpStatus >= 200 && httpStatus < 300 && parsed.success) {
      const next: OAuth2Credentials = {
        ...current,
        accessToken: parsed.data.access_token,
        refreshToken: parsed.data.refresh_token ?? current.refreshToken,
      };
      if (parsed.data.expires_in !== undefined) next.expiresAt = new Date(Date.now() + parsed.data.expires_in * 1000).toISOString();
      else delete next.expiresAt;
      const saved = await settle(connection.id, token, (tx) => deps.connections.saveCredentials(connection.id, next, tx));
      // Only if the claim outlived the token endpoint's timeout (or the connection was deleted).
      if (!saved) throw new TokenRefreshError('the refresh claim expired before the new token was stored');
      log.info({ connection: connection.connection_id }, 'oauth2 token refreshed');
      return next;
    }
    const oauthError = oauthErrorOf(body);
    if (oauthError === 'invalid_grant' || ((httpStatus === 400 || httpStatus === 401) && oauthError !== 'temporarily_unavailable')) {
      const reason = `the provider refused the ${current.refreshToken ? 'refresh token' : 'client credentials'} (${oauthError ?? `HTTP ${httpStatus}`})`;
      await settle(connection.id, token, (tx) => markReauthRequired(tx, connection, reason));
      log.warn({ connection: connection.connection_id, httpStatus, oauthError }, 'refresh token refused: connection needs re-authorisation');
      throw new ReauthRequiredError(connection.connection_id, reason);
    }
    throw new TokenRefreshError(`token endpoint answered HTTP ${httpStatus}${oauthError ? ` (${oauthError})` : ''}`);
  }
}
export type OAuthRefresher = ReturnType<typeof createOAuthRefresher>;
