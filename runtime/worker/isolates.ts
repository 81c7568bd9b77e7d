/**
 * Where a run's isolate comes from.
 *   fresh  a new isolate for every run.
 *   warm   isolates kept per (environment, bundle hash, memory limit) in this worker child, with
 *          the bundle compiled once; every run still gets a fresh context (its own globals and
 *          built-ins), so nothing a run leaves in its realm is visible to the next.
 * A warm isolate never serves two environments or two script versions, never holds two runs at
 * once, and is dropped after any run that was stopped (limit, abort) or left its heap heavy.
 * Runs without an environment id always get a fresh isolate.
 */
import { createHash } from 'node:crypto';
import ivm from 'isolated-vm';

export type IsolateMode = 'fresh' | 'warm';

/** Idle warm isolates kept per worker child (each costs a few MB of RSS). */
const MAX_IDLE = 4;
/** An idle warm isolate unused this long is disposed. */
const IDLE_MS = 5 * 60_000;
/** A run that leaves more than this share of the memory limit in use retires its isolate. */
const RETIRE_AT_SHARE = 0.5;
const MiB = 1024 * 1024;

export interface IsolateLease {
  readonly isolate: ivm.Isolate;
  /** True when this isolate already served a run (a warm start). */
  readonly warm: boolean;
  /** The bundle compiled in this isolate (kept with a warm isolate). */
  script(): Promise<ivm.Script>;
  /** Gives the isolate back: kept warm when `reusable` and healthy, otherwise disposed. */
  release(reusable: boolean): void;
}

export interface IsolateRequest {
  code: string;
  /** sha256 of `code` (hex), when the caller has it. */
  codeHash?: string | undefined;
  memoryMb: number;
  environmentId?: string | undefined;
}

export interface IsolateSource {
  readonly mode: IsolateMode;
  acquire(request: IsolateRequest): IsolateLease;
  /** Disposes every idle isolate. */
  clear(): void;
}

interface Entry {
  key: string | null;
  isolate: ivm.Isolate;
  script: ivm.Script | null;
  memoryMb: number;
  idleSince: number;
}

export function createIsolateSource(options: { mode: IsolateMode; onCatastrophicError(message: string): void }): IsolateSource {
  const idle = new Map<string, Entry>();

  function dispose(entry: Entry): void {
    entry.script?.release();
    entry.script = null;
    if (!entry.isolate.isDisposed) entry.isolate.dispose();
  }

  function sweep(now: number): void {
    for (const [key, entry] of idle) {
      if (now - entry.idleSince < IDLE_MS && !entry.isolate.isDisposed) continue;
      idle.delete(key);
      dispose(entry);
    }
  }

  function keyOf(request: IsolateRequest): string | null {
    if (options.mode !== 'warm' || !request.environmentId) return null;
    const hash = request.codeHash ?? createHash('sha256').update(request.code).digest('hex');
    return `${request.environmentId}\0${hash}\0${request.memoryMb}`;
  }

  function heavy(entry: Entry): boolean {
    try {
      const stats = entry.isolate.getHeapStatisticsSync();
      return stats.used_heap_size + stats.externally_allocated_size > RETIRE_AT_SHARE * entry.memoryMb * MiB;
    } catch {
      return true;
    }
  }

  // Idle isolates hold memory only; a timer that does not keep the child alive retires them.
  setInterval(() => sweep(Date.now()), IDLE_MS).unref();

  return {
    mode: options.mode,
    acquire(request) {
      sweep(Date.now());
      const key = keyOf(request);
      let entry = key === null ? undefined : idle.get(key);
      const warm = entry !== undefined;
      if (entry) idle.delete(key!);
      else entry = { key, isolate: new ivm.Isolate({ memoryLimit: request.memoryMb, onCatastrophicError: options.onCatastrophicError }), script: null, memoryMb: request.memoryMb, idleSince: 0 };
      const held = entry;
      let released = false;
      return {
        isolate: held.isolate,
        warm,
        async script() {
          held.script ??= await held.isolate.compileScript(request.code, { filename: 'file:///script.js' });
          return held.script;
        },
        release(reusable) {
          if (released) return;
          released = true;
          if (!reusable || held.key === null || held.isolate.isDisposed || heavy(held)) {
            dispose(held);
            return;
          }
          held.idleSince = Date.now();
          idle.set(held.key, held);
          for (const [oldKey, old] of idle) {
            if (idle.size <= MAX_IDLE) break;
            idle.delete(oldKey);
            dispose(old);
          }
        },
      };
    },
    clear() {
      for (const entry of idle.values()) dispose(entry);
      idle.clear();
    },
  };
}
