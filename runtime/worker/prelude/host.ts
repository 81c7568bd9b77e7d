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
const pending = new MapCtor<number, { resolve(value: string): void; reject(error: unknown): void; counted: boolean; batch: boolean }>();

// Host calls handed to the worker and not answered yet (timers aside), and those waiting for a
// turn in order: 16 un-awaited batchSave calls of 400,000 records once grew the host's heap from
// 165 MB to 1.3 GB. A waiting call keeps its arguments here, under the isolate's memory limit.
let inFlight = 0;
let batchesInFlight = 0;
const waiting = new MapCtor<number, { batch: boolean; go(): void }>();
let nextWaiting = 0;
let headWaiting = 0;

const hasTurn = (batch: boolean): boolean =>
  inFlight < CAPS.hostCallsInFlight && (!batch || batchesInFlight < CAPS.batchesInFlight);

function release(batch: boolean): void {
  inFlight--;
  if (batch) batchesInFlight--;
  // First come, first served: a waiting batch holds back later calls, so none overtakes another.
  // Calls made before the run ended still go (hostCall refuses the later ones).
  for (let next = waiting.get(headWaiting); next && hasTurn(next.batch); next = waiting.get(headWaiting)) {
    waiting.delete(headWaiting++);
    next.go();
  }
  if (waiting.size > 0) return;
  for (const [key, resolve] of drained) {
    drained.delete(key);
    resolve();
  }
}

const drained = new MapCtor<number, () => void>();
let nextDrained = 0;

/** Null when no call waits its turn; else resolves once every call made is with the worker. */
export function handedOver(): Promise<void> | null {
  if (waiting.size === 0) return null;
  return new PromiseCtor<void>((resolve) => { drained.set(nextDrained++, resolve); });
}
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
    const counted = op !== 'sleep';
    const batch = op === 'batch';
    const go = () => {
      const id = ++nextCallId;
      if (counted) {
        inFlight++;
        if (batch) batchesInFlight++;
      }
      pending.set(id, { resolve, reject, counted, batch });
      send(id, op, a, b === undefined ? '' : b);
    };
    if (!counted || (waiting.size === 0 && hasTurn(batch))) go();
    else waiting.set(nextWaiting++, { batch, go });
  });
}

export function deliver(id: number, ok: boolean, value: string): void {
  const entry = pending.get(id);
  if (!entry) return;
  pending.delete(id);
  if (entry.counted) release(entry.batch);
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
