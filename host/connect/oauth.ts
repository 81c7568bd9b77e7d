/**
 * The OAuth2 grants connect drives: authorization code with PKCE (S256) and `state`, and client
 * credentials. Turns a token response into the connection's credentials and the
 * connection_config values the provider declares (e.g. Salesforce's instance_url).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OAuth2Credentials } from '../connections/connections.ts';
import { callTokenEndpoint, oauthErrorOf, TokenEndpointUnreachableError, TokenResponseSchema, type OAuth2Auth, type TokenClient, type TokenResponse } from '../connections/token-endpoint.ts';
import { readScalar } from '../json-path.ts';

/** A refusal by the provider (or its absence): `code` is the OAuth error when it sent one. */
export class OAuthFlowError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'OAuthFlowError';
    this.code = code;
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const newState = () => randomBytes(32).toString('base64url');

export function authorizationUrl(auth: OAuth2Auth, o: { clientId: string; redirectUri: string; state: string; challenge: string | null; scopes: string[] }): string {
  if (!auth.authorization_url) throw new OAuthFlowError('MISCONFIGURED_PROVIDER', 'the provider declares no authorization_url');
  const url = new URL(auth.authorization_url);
  const params: Record<string, string> = {
    ...auth.authorization_params,
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    state: o.state,
    ...(o.scopes.length > 0 && { scope: o.scopes.join(auth.scope_separator) }),
    ...(o.challenge !== null && { code_challenge: o.challenge, code_challenge_method: 'S256' }),
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

export interface TokenOutcome {
  credentials: OAuth2Credentials;
  connectionConfig: Record<string, string>;
}

function outcomeOf(auth: OAuth2Auth, client: TokenClient, token: TokenResponse): TokenOutcome {
  const credentials: OAuth2Credentials = {
    type: 'oauth2',
    accessToken: token.access_token,
    ...(token.refresh_token && { refreshToken: token.refresh_token }),
    ...(token.expires_in !== undefined && { expiresAt: new Date(Date.now() + token.expires_in * 1000).toISOString() }),
    ...(client.clientId && { clientId: client.clientId }),
    ...(client.clientSecret && { clientSecret: client.clientSecret }),
  };
  const connectionConfig: Record<string, string> = {};
  for (const [key, path] of Object.entries(auth.token_response_config)) {
    const value = readScalar(token, path);
    if (value !== null) connectionConfig[key] = value;
  }
  return { credentials, connectionConfig };
}

async function requestToken(auth: OAuth2Auth, client: TokenClient, grant: Record<string, string>, timeoutMs: number): Promise<TokenOutcome> {
  let answer: { status: number; body: unknown };
  try {
    answer = await callTokenEndpoint(auth, client, grant, timeoutMs);
  } catch (err) {
    if (err instanceof TokenEndpointUnreachableError) throw new OAuthFlowError('TOKEN_ENDPOINT_UNREACHABLE', err.message);
    throw err;
  }
  const parsed = TokenResponseSchema.safeParse(answer.body);
  if (answer.status >= 200 && answer.status < 300 && parsed.success) return outcomeOf(auth, client, parsed.data);
  const code = oauthErrorOf(answer.body);
  const description = (answer.body as { error_description?: unknown } | null)?.error_description;
  throw new OAuthFlowError(code ?? 'TOKEN_REQUEST_FAILED',
    `the token endpoint answered HTTP ${answer.status}${code ? ` (${code}${typeof description === 'string' ? `: ${description.slice(0, 300)}` : ''})` : ''}`);
}

export function exchangeCode(auth: OAuth2Auth, client: TokenClient, o: { code: string; redirectUri: string; verifier: string | null }, timeoutMs = 30_000): Promise<TokenOutcome> {
  return requestToken(auth, client, {
    grant_type: 'authorization_code', code: o.code, redirect_uri: o.redirectUri,
    ...(o.verifier !== null && { code_verifier: o.verifier }),
  }, timeoutMs);
}

export function clientCredentialsToken(auth: OAuth2Auth, client: TokenClient, timeoutMs = 30_000): Promise<TokenOutcome> {
  return requestToken(auth, client, { grant_type: 'client_credentials', ...(auth.scopes.length > 0 && { scope: auth.scopes.join(auth.scope_separator) }) }, timeoutMs);
}
