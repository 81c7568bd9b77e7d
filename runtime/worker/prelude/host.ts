/**
 * Calls to the worker through the one host callback, and the errors the SDK raises. The
 * callbacks are set by `install` and stay in this module: nothing isolated-vm is ever put on the
 * global object.
 */
import type { Caps } from '../../caps.ts';
import { ErrorCtor, MapCtor, PromiseCtor, StringCtor, defineProperty, parse } from './builtins.ts';

/** Asks the worker to do `op`; the worker answers later through `deliver(id, ok, value)`. */
export type SendFn = (id: number, op: string, a: string, b: string) => void;
export type HostLogFn = (level: string, message: string) => void;

let send: SendFn = () => {};
export let hostLog: HostLogFn = () => {};
export let CAPS: Caps;

export function setHost(sendFn: SendFn, logFn: HostLogFn, caps: Caps): void {
  send = sendFn;
  hostLog = logFn;
  CAPS = caps;
}

/** An error of the SDK's own; escaping the script, it fails the run with kind 'sdk' and this code. */
export type SdkError = Error & { code: string; retryAfterMs?: number };

export function sdkError(code: string, message: string): SdkError {
  const error = new ErrorCtor(message) as SdkError;
  defineProperty(error, '__ferrySdkError', { value: code, enumerable: false });
  defineProperty(error, 'code', { value: code, enumerable: false, writable: true, configurable: true });
  return error;
}

let nextCallId = 0;
const pending = new MapCtor<number, { resolve(value: string): void; reject(error: unknown): void }>();
// Set when `run` settles: whatever the script left behind (timers, un-awaited promises,
// finalizers) is refused from then on, and the worker refuses it too.
let ended = false;

export const hasEnded = (): boolean => ended;
export function endRun(): void {
  ended = true;
}

export function hostCall(op: string, a: string, b?: string): Promise<string> {
  if (ended) return PromiseCtor.reject(sdkError('RUN_ENDED', 'the run has ended: host calls are refused'));
  return new PromiseCtor<string>((resolve, reject) => {
    const id = ++nextCallId;
    pending.set(id, { resolve, reject });
    send(id, op, a, b === undefined ? '' : b);
  });
}

export function deliver(id: number, ok: boolean, value: string): void {
  const entry = pending.get(id);
  if (!entry) return;
  pending.delete(id);
  if (ok) {
    entry.resolve(value);
    return;
  }
  let detail: { code?: string; message?: string; retryAfterMs?: unknown };
  try {
    detail = parse(value);
  } catch {
    detail = { code: 'BRIDGE_ERROR', message: StringCtor(value) };
  }
  const error = sdkError(detail.code || 'BRIDGE_ERROR', detail.message || 'host call failed');
  if (typeof detail.retryAfterMs === 'number') error.retryAfterMs = detail.retryAfterMs;
  entry.reject(error);
}

export function checkSize(text: string, cap: number, what: string): void {
  if (text.length > cap) throw sdkError('PAYLOAD_TOO_LARGE', `${what} is ${text.length} characters, over the ${cap} cap`);
}
