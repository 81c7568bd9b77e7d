/**
 * Why the scheduler does not start a (connection, sync)'s runs although they are due: the
 * connection needs re-authorisation (every run would fail until the end user reconnects) or
 * its provider is not configured. One definition, for the runner's skip and the status API.
 * The scheduler's claim (sync-state.ts / parts.ts claimDue) leaves out the same connections.
 */
import type { ConnectionRow } from '../connections/connections.ts';

export interface RunBlocker {
  code: 'CONNECTION_REAUTH_REQUIRED' | 'PROVIDER_NOT_CONFIGURED';
  message: string;
}

export function scheduledRunBlocker(connection: Pick<ConnectionRow, 'connection_id' | 'provider' | 'auth_status' | 'auth_error'>, providerConfigured: boolean): RunBlocker | null {
  if (!providerConfigured) return { code: 'PROVIDER_NOT_CONFIGURED', message: `provider ${connection.provider} is not configured (PUT /providers/${connection.provider})` };
  if (connection.auth_status === 'reauth_required') {
    return {
      code: 'CONNECTION_REAUTH_REQUIRED',
      message: `connection ${connection.connection_id} needs re-authorisation${connection.auth_error ? `: ${connection.auth_error}` : ''}; scheduled runs resume once its credentials are renewed`,
    };
  }
  return null;
}
