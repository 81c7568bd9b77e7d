/**
 * Timers: each is a `sleep` on the worker; clearing only forgets it here. They all die with the
 * isolate. An exception thrown by a timer callback fails the run, as it would crash a process.
 */
import { MapCtor, PromiseCtor, StringCtor, TypeErrorCtor, defineGlobal, keys } from './builtins.ts';
import { hasEnded, hostCall } from './host.ts';

interface Timer {
  fn: (...args: unknown[]) => unknown;
  args: unknown[];
  repeat: boolean;
}

let nextTimerId = 0;
const timers = new MapCtor<number, Timer>();
let fatal: { error: unknown } | null = null;
let onFatal: ((error: unknown) => void) | null = null;

function failRun(error: unknown): void {
  if (fatal) return;
  fatal = { error };
  if (onFatal) onFatal(error);
}

/** A promise that rejects with the first error a timer or microtask callback threw. */
export function fatalErrors(): Promise<never> {
  return new PromiseCtor<never>((_, reject) => {
    onFatal = reject;
    if (fatal) reject(fatal.error);
  });
}

export function clearAllTimers(): void {
  timers.clear();
}

function toDelay(ms: unknown): number {
  const n = Number(ms);
  return n > 0 && n < 2 ** 31 ? n : 0;
}

function armTimer(id: number, delay: number): void {
  hostCall('sleep', StringCtor(delay)).then(
    () => {
      const timer = timers.get(id);
      if (!timer || hasEnded()) return;
      if (!timer.repeat) timers.delete(id);
      try {
        timer.fn(...timer.args);
      } catch (error) {
        failRun(error);
      }
      if (timer.repeat && timers.has(id)) armTimer(id, delay);
    },
    (error) => failRun(error),
  );
}

function addTimer(fn: unknown, ms: unknown, args: unknown[], repeat: boolean): number {
  if (typeof fn !== 'function') throw new TypeErrorCtor('The "callback" argument must be of type function');
  const id = ++nextTimerId;
  timers.set(id, { fn: fn as Timer['fn'], args, repeat });
  armTimer(id, toDelay(ms));
  return id;
}

const clearTimer = (id: unknown): void => {
  timers.delete(id as number);
};

export function installTimers(): void {
  const timerGlobals: Record<string, unknown> = {
    setTimeout: (fn: unknown, ms?: unknown, ...args: unknown[]) => addTimer(fn, ms, args, false),
    setInterval: (fn: unknown, ms?: unknown, ...args: unknown[]) => addTimer(fn, ms, args, true),
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    queueMicrotask: (fn: () => void) => {
      PromiseCtor.resolve().then(() => {
        try {
          fn();
        } catch (error) {
          failRun(error);
        }
      });
    },
  };
  for (const name of keys(timerGlobals)) defineGlobal(name, timerGlobals[name]);
}
