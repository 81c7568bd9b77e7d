/**
 * One POST to an OAuth2 token endpoint (RFC 6749 §3.2): form-encoded grant, client
 * authenticated in the body or with HTTP Basic as the provider declares. Used for the code
 * exchange and client credentials (connect) and for refreshes (oauth-refresh).
 */
import { z } from 'zod';
import type { ProviderAuth } from './providers.ts';

export type OAuth2Auth = Extract<ProviderAuth, { type: 'oauth2' }>;

export interface TokenClient {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
}

export const TokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.coerce.number().positive().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponseSchema>;

export class TokenEndpointUnreachableError extends Error {
  readonly code = 'TOKEN_ENDPOINT_UNREACHABLE';
}

/** The OAuth error code of a token endpoint's answer (`invalid_grant`, …), if it sent one. */
export function oauthErrorOf(body: unknown): string | null {
  const error = (body as { error?: unknown } | null)?.error;
  return typeof error === 'string' ? error : null;
}

export async function callTokenEndpoint(auth: OAuth2Auth, client: TokenClient, grant: Record<string, string>, timeoutMs: number, tokenUrl = auth.token_url): Promise<{ status: number; body: unknown }> {
  const form = new URLSearchParams({ ...auth.token_params, ...grant });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth.client_auth === 'basic' && client.clientId) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`).toString('base64')}`;
  } else {
    if (client.clientId) form.set('client_id', client.clientId);
    if (client.clientSecret) form.set('client_secret', client.clientSecret);
  }
  let response: Response;
  try {
    response = await fetch(tokenUrl, { method: 'POST', headers, body: form, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new TokenEndpointUnreachableError(`token endpoint unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: the caller reads the status */ }
  return { status: response.status, body };
}
