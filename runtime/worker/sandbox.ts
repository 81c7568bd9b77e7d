/**
 * One run's sandbox: a fresh context (with the in-isolate SDK installed) in an isolate leased
 * from the worker's IsolateSource, and the limits watched. Whatever happens, `close()` cancels the
 * run's timers, refuses anything the script left behind, and gives the isolate back (disposed
 * unless it ended cleanly and may stay warm).
 */
import { randomBytes } from 'node:crypto';
import ivm from 'isolated-vm';
import type { RunError } from '../contract.ts';
import { CAPS } from '../caps.ts';
import type { HostCalls } from './host-calls.ts';
import type { IsolateLease } from './isolates.ts';
import { startRunCpuClock } from './run-cpu.ts';

const HEAP_SAMPLE_MS = 5;
/** The log level on which the prelude reports its heap readings (prelude/heap.ts). */
const HEAP_LOG_LEVEL = '__heap';
const MiB = 1024 * 1024;

/** The bundle itself does not compile (not the script's code throwing while it loads). */
export class BundleCompileError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'BundleCompileError';
  }
}

export interface SandboxLimits {
  memoryMb: number;
  wallTimeMs: number;
  cpuTimeMs: number;
}

export interface SandboxDeps {
  hostCalls: HostCalls;
  onLog(level: string, message: string): void;
  /** Called when the sampled peak heap grows. */
  onHeap(peakBytes: number): void;
}

export interface Sandbox {
  /**
   * Runs the bundle's top level in this run's context (compiled once per warm isolate). A bundle
   * V8 cannot compile rejects with BundleCompileError; anything else it rejects with the script's
   * own code threw (a SyntaxError from JSON.parse included).
   */
  evaluate(): Promise<void>;
  /** Calls the prelude's `run`/`describe`; resolves with its JSON envelope. */
  call(entry: 'run' | 'describe', arg: string): Promise<string>;
  /** Stops the run now with this error (limits, abort); the first reason wins. */
  stop(reason: RunError): void;
  /** Resolves with the reason when the run is stopped. */
  readonly stopped: Promise<RunError>;
  /** Why the isolate died, if it did: a limit we enforced, or the memory limit. */
  stopReason(error?: unknown): RunError | null;
  usage(): { cpuMs: number; peakHeapBytes: number; heapBytes: number };
  close(): void;
}

/** The prelude's entry points in one context (References only the worker holds). */
export interface PreludeEntries {
  deliver: ivm.Reference;
  run: ivm.Reference;
  describe: ivm.Reference;
  /** The highest heap reading the prelude took in the isolate (see prelude/heap.ts). */
  heapPeak: ivm.Reference;
}

/** Most bytes one `random` call returns (Web Crypto's getRandomValues limit). */
const MAX_RANDOM_BYTES = 65_536;

/**
 * The prelude's source of randomness for `crypto` (sync: getRandomValues is synchronous). Takes a
 * byte count only and returns hex, so it holds nothing of a run and can serve every context.
 */
const RANDOM = new ivm.Callback((bytes: unknown) => {
  const n = Math.trunc(Number(bytes));
  return randomBytes(Number.isFinite(n) ? Math.min(Math.max(n, 0), MAX_RANDOM_BYTES) : 0).toString('hex');
});

/**
 * Installs the in-isolate SDK in `context` with its two host callbacks (see prelude/index.ts),
 * reading the lease's isolate's heap at each call into the SDK. Runs no script code, so it uses
 * isolated-vm's synchronous calls.
 */
export function installPrelude(lease: IsolateLease, context: ivm.Context, send: ivm.Callback | ivm.Reference, log: ivm.Callback | ivm.Reference): PreludeEntries {
  const install = lease.install(context) as ivm.Reference<(...args: unknown[]) => unknown>;
  if (install.typeof !== 'function') throw new Error('the prelude did not yield its install function');
  const callback = (f: ivm.Callback | ivm.Reference) => (f instanceof ivm.Reference ? f.derefInto() : f);
  const api = install.applySync(undefined, [callback(send), callback(log), JSON.stringify(CAPS), RANDOM, lease.isolate], { result: { reference: true } }) as ivm.Reference;
  install.release();
  try {
    return {
      deliver: api.getSync('deliver', { reference: true }),
      run: api.getSync('run', { reference: true }),
      describe: api.getSync('describe', { reference: true }),
      heapPeak: api.getSync('heapPeak', { reference: true }),
    };
  } finally {
    api.release();
  }
}

export async function openSandbox(limits: SandboxLimits, deps: SandboxDeps, lease: IsolateLease): Promise<Sandbox> {
  const { isolate } = lease;
  await lease.collected();
  let stopped: RunError | null = null;
  let closed = false;
  let cpuMs = 0;
  let peakHeapBytes = 0;
  let heapBytes = 0;
  let sampling = false;
  const startedAt = performance.now();
  // A warm isolate's CPU clock runs across runs: this run is charged from here (run-cpu.ts says
  // why isolated-vm's own figure is not used alone).
  const cpuClock = startRunCpuClock(isolate);
  let onStopped: (reason: RunError) => void = () => {};
  const stoppedPromise = new Promise<RunError>((resolve) => (onStopped = resolve));

  function stop(reason: RunError): void {
    if (stopped) return;
    stopped = reason;
    readCpu();
    // Disposing is the only way to interrupt an isolate that is running or parked on a promise.
    if (!isolate.isDisposed) isolate.dispose();
    onStopped(reason);
  }

  function readCpu(): void {
    try {
      cpuMs = cpuClock.readMs();
    } catch {
      // disposed between the check and the read
    }
  }

  function recordHeap(stats: ivm.HeapStatistics): void {
    // ArrayBuffers live outside the V8 heap but count against the isolate's limit.
    const bytes = stats.used_heap_size + stats.externally_allocated_size;
    heapBytes = bytes;
    if (bytes > peakHeapBytes) recordPeak(bytes);
  }

  function recordPeak(bytes: number): void {
    peakHeapBytes = bytes;
    deps.onHeap(bytes);
  }

  let context: ivm.Context;
  let entries: PreludeEntries;
  try {
    // The set-up runs no script code (a fresh context, our own prelude, plain properties of the
    // object it returns), so it uses isolated-vm's synchronous calls: each async one is a hop to
    // the isolate's thread and back (~0.1–0.4 ms apiece on a warm start).
    context = lease.createContext();
    // Both callbacks go dead at close(): whatever the script left behind (timers, un-awaited
    // promises, finalizers of a warm isolate) reaches nothing of the host after its run.
    const send = new ivm.Callback(
      (id: number, op: string, a: string, b: string) => {
        if (closed) return;
        deps.hostCalls.handle(String(op), String(a), String(b)).then(
          (value) => deliver(id, true, value),
          (error: unknown) => {
            const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'BRIDGE_ERROR';
            const message = error instanceof Error ? error.message : String(error);
            // RETRY_AFTER from the proxy keeps its wait, so the run's error carries it.
            const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
            deliver(id, false, JSON.stringify({ code, message, ...(typeof retryAfterMs === 'number' && { retryAfterMs }) }));
          },
        );
      },
      { ignored: true },
    );
    const log = new ivm.Callback((level: string, message: string) => {
      if (closed) return;
      if (level === HEAP_LOG_LEVEL) {
        const bytes = Number(message);
        if (Number.isFinite(bytes) && bytes > peakHeapBytes) recordPeak(bytes);
        return;
      }
      // The prelude's signal (the script cannot reach this callback) that an ArrayBuffer was refused.
      if (level === '__memory') {
        stop({ kind: 'limit', code: 'MEMORY', message: `memory limit of ${limits.memoryMb} MB exceeded (an ArrayBuffer allocation was refused)`, limit: limits.memoryMb, used: Math.max(limits.memoryMb, Math.round(peakHeapBytes / MiB)) });
        return;
      }
      deps.onLog(String(level), String(message));
    }, { ignored: true });
    entries = installPrelude(lease, context, send, log);
  } catch (error) {
    lease.release(false);
    throw error;
  }

  // The wall clock covers everything, including promises that never settle; CPU is polled
  // because isolated-vm's `timeout` only bounds synchronous code. Heap samples wait for the
  // isolate to be idle (getHeapStatistics is queued on its thread), so one is in flight at most.
  const wallTimer = setTimeout(() => {
    stop({ kind: 'limit', code: 'WALL_TIME', message: `wall time limit of ${limits.wallTimeMs} ms exceeded`, limit: limits.wallTimeMs, used: Math.round(performance.now() - startedAt) });
  }, limits.wallTimeMs);
  const poller = setInterval(() => {
    readCpu();
    if (cpuMs > limits.cpuTimeMs) {
      stop({ kind: 'limit', code: 'CPU', message: `CPU time limit of ${limits.cpuTimeMs} ms exceeded`, limit: limits.cpuTimeMs, used: Math.round(cpuMs) });
      return;
    }
    if (sampling || isolate.isDisposed) return;
    sampling = true;
    isolate.getHeapStatistics().then(recordHeap, () => {}).finally(() => {
      sampling = false;
    });
  }, HEAP_SAMPLE_MS);

  /** The prelude's highest heap reading (read only while the isolate is idle). */
  function probedPeak(): number {
    try {
      return isolate.isDisposed ? 0 : Number(entries.heapPeak.applySync(undefined, []));
    } catch {
      return 0;
    }
  }

  function deliver(id: number, ok: boolean, value: string): void {
    if (closed || isolate.isDisposed) return;
    entries.deliver.apply(undefined, [id, ok, value]).catch(() => {});
  }

  return {
    async evaluate() {
      let script: Awaited<ReturnType<typeof lease.script>>;
      try {
        script = await lease.script();
      } catch (error) {
        throw new BundleCompileError(error);
      }
      await script.run(context);
    },
    async call(entry, arg) {
      const result = await entries[entry].apply(undefined, [arg], { result: { promise: true, copy: true } });
      return String(result);
    },
    stop,
    stopped: stoppedPromise,
    stopReason(error) {
      if (stopped) return stopped;
      // Nothing but stop() and V8's memory limit disposes a leased isolate, so a disposal stop()
      // did not make is the limit. Its error says so only when the isolate was running from this
      // entry; resumed from a host call's answer (after an await), the run's promise is merely
      // "abandoned".
      if (isolate.isDisposed && error !== undefined) {
        // V8 disposed the isolate on reaching the limit, so its heap peaked there even when a
        // tight allocation loop let no sample in.
        peakHeapBytes = Math.max(peakHeapBytes, limits.memoryMb * MiB);
        return {
          kind: 'limit',
          code: 'MEMORY',
          message: `memory limit of ${limits.memoryMb} MB exceeded`,
          limit: limits.memoryMb,
          used: Math.round(peakHeapBytes / MiB),
        };
      }
      return null;
    },
    usage() {
      return { cpuMs, peakHeapBytes, heapBytes };
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(wallTimer);
      clearInterval(poller);
      deps.hostCalls.dispose();
      readCpu();
      if (!isolate.isDisposed) {
        try {
          recordHeap(isolate.getHeapStatisticsSync());
        } catch {
          // disposed meanwhile
        }
      }
      const probed = probedPeak();
      if (probed > peakHeapBytes) recordPeak(probed);
      // Every reading included the contexts earlier runs left as garbage, when no collection came
      // between: the run's peak is its own (the readings streamed meanwhile stay as read).
      peakHeapBytes = Math.max(0, peakHeapBytes - lease.inheritedBytes());
      for (const ref of [entries.deliver, entries.run, entries.describe, entries.heapPeak]) ref.release();
      context.release();
      lease.release(stopped === null);
    },
  };
}
