/** A proxy failure. `code` reaches the script (and the run's error); `retryAfterMs` is set for RETRY_AFTER. */
export class ProxyError extends Error {
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}
