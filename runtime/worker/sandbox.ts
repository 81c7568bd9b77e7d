/**
 * One fresh isolate with the in-isolate SDK installed and the limits watched: the building block
 * of a run and of describe. Whatever happens, `close()` disposes the isolate and its timers.
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import type { RunError } from '../contract.ts';
import { CAPS } from '../caps.ts';
import type { HostCalls } from './host-calls.ts';

const PRELUDE = readFileSync(new URL('./prelude.js', import.meta.url), 'utf8');
const HEAP_SAMPLE_MS = 5;
const MiB = 1024 * 1024;

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
  onCatastrophicError(message: string): void;
}

export interface Sandbox {
  /** Compiles and evaluates the bundle's top level. */
  evaluate(code: string): Promise<void>;
  /** Calls the prelude's `run`/`describe`; resolves with its JSON envelope. */
  call(entry: 'run' | 'describe', arg: string): Promise<string>;
  /** Stops the run now with this error (limits, abort); the first reason wins. */
  stop(reason: RunError): void;
  /** Why the isolate died, if it did: a limit we enforced, or the memory limit. */
  stopReason(error?: unknown): RunError | null;
  usage(): { cpuMs: number; peakHeapBytes: number };
  close(): void;
}

export async function openSandbox(limits: SandboxLimits, deps: SandboxDeps): Promise<Sandbox> {
  const isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb, onCatastrophicError: deps.onCatastrophicError });
  let stopped: RunError | null = null;
  let cpuMs = 0;
  let peakHeapBytes = 0;
  let sampling = false;
  const startedAt = performance.now();

  function stop(reason: RunError): void {
    if (stopped) return;
    stopped = reason;
    readCpu();
    if (!isolate.isDisposed) isolate.dispose();
  }

  function readCpu(): void {
    try {
      if (!isolate.isDisposed) cpuMs = Number(isolate.cpuTime) / 1e6;
    } catch {
      // disposed between the check and the read
    }
  }

  function recordHeap(stats: ivm.HeapStatistics): void {
    const bytes = stats.used_heap_size + stats.externally_allocated_size;
    if (bytes > peakHeapBytes) {
      peakHeapBytes = bytes;
      deps.onHeap(bytes);
    }
  }

  let context: ivm.Context;
  let deliverRef: ivm.Reference;
  let entries: Record<'run' | 'describe', ivm.Reference>;
  try {
    context = await isolate.createContext();
    const send = new ivm.Callback(
      (id: number, op: string, a: string, b: string) => {
        deps.hostCalls.handle(String(op), String(a), String(b)).then(
          (value) => deliver(id, true, value),
          (error: unknown) => {
            const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'BRIDGE_ERROR';
            const message = error instanceof Error ? error.message : String(error);
            const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
            deliver(id, false, JSON.stringify({ code, message, ...(typeof retryAfterMs === 'number' && { retryAfterMs }) }));
          },
        );
      },
      { ignored: true },
    );
    const log = new ivm.Callback((level: string, message: string) => deps.onLog(String(level), String(message)), { ignored: true });
    const api = await context.evalClosure(PRELUDE, [send, log, JSON.stringify(CAPS)], { result: { reference: true } });
    deliverRef = await api.get('deliver', { reference: true });
    entries = { run: await api.get('run', { reference: true }), describe: await api.get('describe', { reference: true }) };
    api.release();
  } catch (error) {
    isolate.dispose();
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


  function deliver(id: number, ok: boolean, value: string): void {
    if (isolate.isDisposed) return;
    deliverRef.apply(undefined, [id, ok, value]).catch(() => {});
  }

  return {
    async evaluate(code) {
      const script = await isolate.compileScript(code, { filename: 'file:///script.js' });
      await script.run(context);
      script.release();
    },
    async call(entry, arg) {
      const result = await entries[entry].apply(undefined, [arg], { result: { promise: true, copy: true } });
      return String(result);
    },
    stop,
    stopReason(error) {
      if (stopped) return stopped;
      const message = error instanceof Error ? error.message : '';
      if (isolate.isDisposed && /memory limit/i.test(message)) {
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
      return { cpuMs, peakHeapBytes };
    },
    close() {
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
        isolate.dispose();
      }
    },
  };
}
