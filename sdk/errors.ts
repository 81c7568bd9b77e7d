/**
 * Errors a script can throw to steer what happens next. They are recognised by `code`, never by
 * `instanceof`: the class a script bundles is a different object from the host's.
 */
const FERRY_ERROR = '__ferryError';

/** An action's expected failure: returned to the caller as a 4xx with `type` and `payload`. */
export class ActionError<P = unknown> extends Error {
  readonly [FERRY_ERROR] = 'ACTION_ERROR';
  readonly type: string;
  readonly payload: P | undefined;
  constructor(payload?: P & { message?: string; type?: string }) {
    super(payload?.message ?? 'Action failed');
    this.name = 'ActionError';
    this.type = payload?.type ?? 'action_error';
    this.payload = payload;
  }
}

/** A failure that retrying will not fix (bad configuration, revoked access): the run is not retried. */
export class NonRetryableError extends Error {
  readonly [FERRY_ERROR] = 'NON_RETRYABLE';
  constructor(message: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/** Ask to be run again no sooner than `retryAfterMs` from now (provider quota, maintenance window). */
export class RetryAfterError extends Error {
  readonly [FERRY_ERROR] = 'RETRY_AFTER';
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.name = 'RetryAfterError';
    this.retryAfterMs = retryAfterMs;
  }
}

export function isFerryError(value: unknown): value is { [FERRY_ERROR]: string } {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[FERRY_ERROR] === 'string';
}
