/** Connect sessions in tests, as an app's backend makes them and its own UI then uses them. */
import { expect } from 'vitest';
import { createApiClient, type ApiClient } from '../helpers/ferry.ts';

export interface ConnectSessionAnswer {
  token: string;
  expires_at: string;
  connect_url: string;
}

/** POST /connect/sessions with the environment's key: `defaults` overridden by `body`; the test fails unless it is made. */
export async function createConnectSession(api: ApiClient, defaults: Record<string, unknown>, body: Record<string, unknown> = {}): Promise<ConnectSessionAnswer> {
  const response = await api.post('/connect/sessions', { ...defaults, ...body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as ConnectSessionAnswer;
}

/** The headless API, as an app's own UI calls it: the session token is the only credential. */
export function asSession(url: string, token: string): ApiClient {
  return createApiClient(url, token);
}
