/**
 * Secret-key authentication, shared by the app-wide middleware (app.ts) and GET /records, which
 * resolves key → environment → connection in one query instead of two round trips (bench/api).
 * Nothing is cached: every request is checked against the database, so a revoked key stops
 * working at once.
 */
import type { Context } from 'hono';
import { ApiError } from './errors.ts';

/** The secret of `Authorization: Bearer <key>`; 401 when the header is missing or malformed. */
export function bearerKey(c: Context): string {
  const header = c.req.header('authorization') ?? '';
  const key = /^Bearer\s+(.+)$/i.exec(header)?.[1];
  if (!key) throw new ApiError(401, 'UNAUTHORIZED', 'missing "Authorization: Bearer <secret key>" header');
  return key.trim();
}

export const unknownKey = () => new ApiError(401, 'UNAUTHORIZED', 'unknown or revoked secret key');
