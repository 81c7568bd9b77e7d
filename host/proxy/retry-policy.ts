/** When the proxy retries, and how long it waits: exponential backoff with full jitter, Retry-After wins. */

export interface RetryDecision {
  retry: boolean;
  delayMs: number;
}

export const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

export function backoffMs(attempt: number, baseMs = 200, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Retry-After is either seconds or an HTTP date; rate-limit reset headers are epoch seconds. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const value = headers.get('retry-after');
  if (value) {
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset');
  if (reset && Number.isFinite(Number(reset))) {
    const n = Number(reset);
    // Small numbers are "seconds from now", large ones an epoch timestamp.
    return Math.max(0, n > 1e9 ? n * 1000 - now : n * 1000);
  }
  return null;
}
