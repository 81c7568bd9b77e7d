/** connection.auth_failed for a connection whose credentials stopped working (a refused refresh token, API key or password). */
import type { OnReauthRequired } from '../connections/connections.ts';
import type { WebhookOutbox } from '../webhooks-out/deliveries.ts';

export function authFailedAnnouncer(outbox: Pick<WebhookOutbox, 'publish'>): OnReauthRequired {
  return async (tx, connection, reason) => {
    const [row] = await tx<{ environment_id: string; connection_id: string; provider: string; end_user_id: string | null; end_user_org_id: string | null }[]>`
      select environment_id, connection_id, provider, end_user_id, end_user_org_id from connections where id = ${connection.id}`;
    if (!row) return;
    await outbox.publish(tx, row.environment_id, [{
      type: 'connection.auth_failed', from: 'ferry', connection_id: row.connection_id, provider: row.provider,
      end_user: row.end_user_id === null ? null : { id: row.end_user_id, org_id: row.end_user_org_id },
      error: { code: 'CONNECTION_REAUTH_REQUIRED', message: reason },
    }]);
  };
}
