/**
 * Heap readings taken inside a run's isolate, on its own thread. The worker's timer samples the
 * heap only while the isolate is idle (isolated-vm queues getHeapStatistics behind running
 * code), so a synchronous stretch that allocates 40 MB and returns — after which V8 may collect
 * it before any idle moment — would go unseen. The prelude reads the heap at every call the
 * script makes into the SDK (each log line, host call and timer) and as the run's entry settles;
 * the isolate reads its own statistics synchronously, a couple of microseconds per reading.
 * Part of the prelude (so of the snapshot), rather than a closure compiled into each context.
 */

/**
 * The log level growth of the peak is reported on (the script cannot reach the log callback).
 * Spelled out again in sandbox.ts: the prelude ships as source that imports only types from outside.
 */
const HEAP_LOG_LEVEL = '__heap';

/** Growth of the in-isolate peak worth telling the worker about while the run goes on. */
const REPORT_STEP_BYTES = 64 * 1024;

/** The run's isolate, as isolated-vm hands it into the isolate: only its statistics are read. */
export interface HeapSource {
  getHeapStatisticsSync(): { used_heap_size: number; externally_allocated_size: number };
}

let source: HeapSource | null = null;
let report: (level: string, message: string) => void = () => {};
let peak = 0;
let reported = 0;

export function setHeapSource(heap: HeapSource | null, log: (level: string, message: string) => void): void {
  source = heap;
  report = log;
}

export function probeHeap(): void {
  if (!source) return;
  try {
    const stats = source.getHeapStatisticsSync();
    const bytes = stats.used_heap_size + stats.externally_allocated_size;
    if (bytes > peak) peak = bytes;
    if (peak >= reported + REPORT_STEP_BYTES) {
      reported = peak;
      report(HEAP_LOG_LEVEL, '' + peak);
    }
  } catch {
    // the isolate is being disposed
  }
}

/** The highest reading so far. */
export const heapPeak = (): number => peak;
