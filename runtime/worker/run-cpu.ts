/**
 * A run's CPU time: what its CPU limit is checked against and what its usage reports.
 *
 * isolated-vm's `isolate.cpuTime` means to read the isolate thread's CPU clock, but its Linux
 * prebuilds are built without USE_CLOCK_THREAD_CPUTIME_ID (they import only steady_clock): it
 * counts *wall* time while the isolate holds its lock. On a loaded machine that charges a script
 * for every moment the kernel gave its core to another process — measured here, 3,038 ms of
 * "cpuTime" for 283 ms of process CPU with two busy loops pinned to the same core — so a 1M-record
 * sync with ~19 s of real CPU hit its 60 s limit. Time spent waiting on the host (async host
 * calls, the isolate idle) is not counted by either clock.
 *
 * The worker process's CPU outside its main thread (isolate threads, V8's helper threads) is
 * also at least the isolate thread's CPU and does not grow while the core is taken away; the
 * lower of the two readings is therefore never below what the isolate's own thread used, and no
 * longer counts contention. Node < 23.9 has no `process.threadCpuUsage`: isolated-vm's figure alone.
 */
import type ivm from 'isolated-vm';

export interface RunCpuClock {
  /** CPU ms charged to the run since the clock was started. */
  readMs(): number;
}

/** CPU µs of this process outside its main thread, or null where Node cannot tell. */
function offMainThreadMicros(): number | null {
  if (typeof process.threadCpuUsage !== 'function') return null;
  const all = process.cpuUsage();
  const main = process.threadCpuUsage();
  return all.user + all.system - (main.user + main.system);
}

/** Starts charging `isolate` from now (a warm isolate's counters run across runs). */
export function startRunCpuClock(isolate: ivm.Isolate): RunCpuClock {
  const isolateAtStart = Number(isolate.cpuTime);
  const offMainAtStart = offMainThreadMicros();
  let lastMs = 0;
  return {
    readMs() {
      if (isolate.isDisposed) return lastMs;
      const inIsolateMs = (Number(isolate.cpuTime) - isolateAtStart) / 1e6;
      const offMain = offMainThreadMicros();
      const offMainMs = offMain === null || offMainAtStart === null ? Infinity : (offMain - offMainAtStart) / 1e3;
      // Both clocks only grow, but their minimum may switch between them: never report less than before.
      lastMs = Math.max(lastMs, Math.min(inIsolateMs, offMainMs));
      return lastMs;
    },
  };
}
