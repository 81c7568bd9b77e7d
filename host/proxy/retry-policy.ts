/** When the proxy retries, and how long it waits: exponential backoff with full jitter; the provider's own wait wins. */

export const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

export function backoffMs(attempt: number, baseMs = 200, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** A reset header's value: small numbers are seconds from now, large ones epoch seconds (or ms), else an HTTP date. */
export function resetValueMs(value: string, now = Date.now()): number | null {
  const n = Number(value);
  if (value.trim() !== '' && Number.isFinite(n)) {
    if (n > 1e12) return Math.max(0, n - now);
    if (n > 1e9) return Math.max(0, n * 1000 - now);
    return Math.max(0, n * 1000);
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** How long the provider asked us to wait: Retry-After (seconds or HTTP date), else a rate-limit reset header. */
export function retryAfterMs(headers: Record<string, string>, resetHeader?: string, now = Date.now()): number | null {
  const value = headers['retry-after'];
  if (value) {
    const seconds = Number(value);
    if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  for (const name of [resetHeader, 'x-ratelimit-reset', 'ratelimit-reset']) {
    const reset = name ? headers[name] : undefined;
    if (reset) {
      const ms = resetValueMs(reset, now);
      if (ms !== null) return ms;
    }
  }
  return null;
}
