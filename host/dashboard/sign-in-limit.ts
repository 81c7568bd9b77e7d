/**
 * Sign-in attempts per client address, against guessing secret keys: a burst of 10, then one
 * a minute. Kept in the shared Postgres token buckets (host/proxy/rate-limiter.ts), so every API
 * process behind a load balancer counts the same attempts. An attempt whose key works is given
 * back: only refused keys use the budget. While an address is over it, every attempt is refused
 * before its key is checked, so the limit is no oracle for a right guess.
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { BucketSpec, RateLimiter } from '../proxy/rate-limiter.ts';

export const ATTEMPTS_BURST = 10;
export const ATTEMPTS_PER_SECOND = 1 / 60;

export interface SignInLimit {
  /** Spends one attempt of `address`: 0 to go ahead, else the ms until one is allowed (nothing spent). */
  attempt(address: string): Promise<number>;
  /** The attempt's key worked: its token is given back. */
  succeeded(address: string): Promise<void>;
}

export function createSignInLimit(limiter: Pick<RateLimiter, 'reserve' | 'refund'>): SignInLimit {
  const bucket = (address: string): BucketSpec[] => [{ key: `dashboard-sign-in:${address}`, requestsPerSecond: ATTEMPTS_PER_SECOND, burst: ATTEMPTS_BURST }];
  return {
    async attempt(address) {
      const wait = await limiter.reserve(bucket(address));
      if (wait > 0) await limiter.refund(bucket(address));
      return wait;
    },
    succeeded: (address) => limiter.refund(bucket(address)),
  };
}

/**
 * Who is signing in: the peer's address, or behind a trusted reverse proxy the address that proxy
 * appended to X-Forwarded-For (its last entry: earlier ones are the client's to forge).
 */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').map((a) => a.trim()).filter(Boolean).at(-1);
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not served by @hono/node-server (app.request in process)
  }
}
