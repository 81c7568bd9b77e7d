/**
 * Every non-2xx answer of the Ferry API, with its stable `code` (INVALID_REQUEST, NOT_FOUND,
 * UNAUTHORIZED, ACTION_ERROR, …). Recognise it with isFerryApiError or by `code`, not instanceof:
 * two copies of this module (bundlers, realms) make instanceof lie.
 */
export interface FerryErrorIssue {
  path: string[];
  message: string;
}

const FERRY_API_ERROR = Symbol.for('ferry.client.FerryApiError');

export class FerryApiError extends Error {
  readonly [FERRY_API_ERROR] = true;
  /** HTTP status; 0 when no answer arrived (network failure, timeout). */
  readonly status: number;
  readonly code: string;
  readonly issues: FerryErrorIssue[] | undefined;
  /** The whole `error` object, for codes that carry more (ACTION_ERROR: type, payload, run_id). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'FerryApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.issues = Array.isArray(details.issues) ? (details.issues as FerryErrorIssue[]) : undefined;
  }
}

export function isFerryApiError(err: unknown): err is FerryApiError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[FERRY_API_ERROR] === true;
}

/** Builds the error from a response body that should be `{ error: { code, message, … } }`. */
export function errorFromResponse(status: number, text: string): FerryApiError {
  try {
    const body = JSON.parse(text) as { error?: Record<string, unknown> };
    const error = body.error;
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return new FerryApiError(status, error.code, error.message, error);
    }
  } catch {
    // not JSON: a proxy or load balancer answered
  }
  return new FerryApiError(status, `HTTP_${status}`, `HTTP ${status}: ${text.slice(0, 200)}`);
}
