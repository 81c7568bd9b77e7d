/**
 * What a failed sync run means for the next one. Retries are our own rescheduling (the pair's
 * next_run_at moves forward) rather than pg-boss retries: the run row, the pair's state and
 * the status endpoint then tell the same story, and a retry is just an earlier scheduled run
 * that the singleton, fairness and concurrency rules already cover.
 */
import type { RunError } from '@ferry/runtime/contract';

export interface RetryOptions {
  /** Retries after a failure before the pair waits for its next scheduled run. */
  maxRetries: number;
  /** Delay before the first retry; doubles each time. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxRetries: 3, baseMs: 30_000, maxMs: 30 * 60_000 };

export type RetryDecision = { delayMs: number; countsAsAttempt: boolean } | null;

/** Failures a retry cannot fix: the script said so, or the connection waits for its end user to reconnect. */
const FINAL_CODES = new Set(['NON_RETRYABLE', 'CONNECTION_REAUTH_REQUIRED']);

/**
 * null: no retry (NON_RETRYABLE, CONNECTION_REAUTH_REQUIRED, or the limit is reached). RETRY_AFTER waits what the script
 * asked and does not use up an attempt. Anything else: exponential backoff with "equal jitter"
 * (half fixed, half random), so a provider outage does not bring every pair back at once.
 */
export function decideRetry(error: RunError, attempt: number, options: RetryOptions, random: () => number = Math.random): RetryDecision {
  if (FINAL_CODES.has(error.code)) return null;
  if (error.code === 'RETRY_AFTER' && typeof error.retryAfterMs === 'number') {
    return { delayMs: Math.min(Math.max(error.retryAfterMs, 0), 24 * 3600_000), countsAsAttempt: false };
  }
  if (attempt >= options.maxRetries) return null;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  return { delayMs: Math.round(ceiling / 2 + (ceiling / 2) * random()), countsAsAttempt: true };
}
