/**
 * OAuth2 access tokens kept usable: refreshed shortly before they expire and once after a 401.
 * Single-flight across processes: the refresh runs under a transaction-scoped advisory lock on
 * the connection and re-reads the stored token after taking it, so a second caller finds the
 * token already refreshed and never sends a refresh token the first one rotated away. A refresh
 * token the provider refuses (invalid_grant) marks the connection as needing re-authorisation.
 */
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { ReauthRequiredError, type Connections, type Credentials, type OAuth2Credentials } from './connections.ts';
import type { ProviderAuth } from './providers.ts';

/** First key of the two-key advisory lock space used for OAuth refreshes ("oau"). */
const OAUTH_LOCK_CLASS = 0x6f6175;

export type OAuth2Auth = Extract<ProviderAuth, { type: 'oauth2' }>;

export interface ConnectionRef {
  id: string;
  connection_id: string;
}

const TokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.coerce.number().positive().optional(),
});

export class TokenRefreshError extends Error {
  readonly code = 'TOKEN_REFRESH_FAILED';
}

export function isExpiring(credentials: OAuth2Credentials, marginS: number, now = Date.now()): boolean {
  return credentials.expiresAt !== undefined && Date.parse(credentials.expiresAt) - marginS * 1000 <= now;
}

export function createOAuthRefresher(deps: { sql: Sql; connections: Connections; logger: Logger; timeoutMs?: number }) {
  const log = deps.logger.child({ module: 'oauth-refresh' });

  async function callTokenEndpoint(auth: OAuth2Auth, c: OAuth2Credentials & { refreshToken: string }) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.refreshToken });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (auth.client_auth === 'basic' && c.clientId) {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret ?? '')}`).toString('base64')}`;
    } else {
      if (c.clientId) form.set('client_id', c.clientId);
      if (c.clientSecret) form.set('client_secret', c.clientSecret);
    }
    let response: Response;
    try {
      response = await fetch(auth.token_url, { method: 'POST', headers, body: form, redirect: 'error', signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000) });
    } catch (err) {
      throw new TokenRefreshError(`token endpoint unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON: handled below */ }
    return { status: response.status, body };
  }

  return {
    /**
     * Usable credentials for the connection. Refreshes when the token is within the provider's
     * margin of expiry, or when `rejectedAccessToken` (a token the provider just answered 401
     * to) is still the stored one.
     */
    async fresh(connection: ConnectionRef, auth: OAuth2Auth, rejectedAccessToken?: string): Promise<Credentials> {
      const needsRefresh = (c: Credentials) => c.type === 'oauth2' &&
        (rejectedAccessToken !== undefined ? c.accessToken === rejectedAccessToken : isExpiring(c, auth.refresh_margin_s));
      const stored = await deps.connections.credentials(connection.id);
      if (!needsRefresh(stored)) return stored;

      let revoked: string | null = null;
      const result = await deps.sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${OAUTH_LOCK_CLASS}, hashtext(${connection.id}))`;
        const [status] = await tx<{ auth_status: string; auth_error: string | null }[]>`select auth_status, auth_error from connections where id = ${connection.id}`;
        if (status?.auth_status === 'reauth_required') {
          revoked = status.auth_error ?? 'the provider refused the refresh token';
          return null;
        }
        // Another process may have refreshed while we waited for the lock.
        const current = await deps.connections.credentials(connection.id, tx);
        if (current.type !== 'oauth2' || !needsRefresh(current)) return current;
        if (!current.refreshToken) {
          if (rejectedAccessToken === undefined) return current; // nothing to refresh with; try the token as it is
          revoked = 'the access token was refused and the connection has no refresh token';
          await deps.connections.markReauthRequired(connection.id, revoked, tx);
          return null;
        }
        const { status: httpStatus, body } = await callTokenEndpoint(auth, { ...current, refreshToken: current.refreshToken });
        const parsed = TokenResponseSchema.safeParse(body);
        if (httpStatus >= 200 && httpStatus < 300 && parsed.success) {
          const next: OAuth2Credentials = {
            ...current,
            accessToken: parsed.data.access_token,
            refreshToken: parsed.data.refresh_token ?? current.refreshToken,
          };
          if (parsed.data.expires_in !== undefined) next.expiresAt = new Date(Date.now() + parsed.data.expires_in * 1000).toISOString();
          else delete next.expiresAt;
          await deps.connections.saveCredentials(connection.id, next, tx);
          log.info({ connection: connection.connection_id }, 'oauth2 token refreshed');
          return next;
        }
        const oauthError = typeof (body as { error?: unknown } | null)?.error === 'string' ? (body as { error: string }).error : null;
        if (oauthError === 'invalid_grant' || ((httpStatus === 400 || httpStatus === 401) && oauthError !== 'temporarily_unavailable')) {
          revoked = `the provider refused the refresh token (${oauthError ?? `HTTP ${httpStatus}`})`;
          await deps.connections.markReauthRequired(connection.id, revoked, tx);
          log.warn({ connection: connection.connection_id, httpStatus, oauthError }, 'refresh token refused: connection needs re-authorisation');
          return null;
        }
        throw new TokenRefreshError(`token endpoint answered HTTP ${httpStatus}${oauthError ? ` (${oauthError})` : ''}`);
      });
      if (revoked !== null) throw new ReauthRequiredError(connection.connection_id, revoked);
      return result!;
    },
  };
}
export type OAuthRefresher = ReturnType<typeof createOAuthRefresher>;
