/**
 * Heap readings taken inside a run's isolate, on its own thread. The worker's timer samples the
 * heap only while the isolate is idle (isolated-vm queues getHeapStatistics behind running
 * code), so a synchronous stretch that allocates 40 MB and returns — after which V8 may collect
 * it before any idle moment — used to go unseen. The probe reads the heap at every call the
 * script makes into the SDK (each log line, host call and timer) and as the run's entry settles;
 * the isolate reads its own statistics synchronously, a couple of microseconds per reading.
 */
import ivm from 'isolated-vm';

/** Growth of the in-isolate peak worth telling the worker about while the run goes on. */
const REPORT_STEP_BYTES = 64 * 1024;
/** The log level the probe reports on (the script cannot reach the log callback). */
export const HEAP_LOG_LEVEL = '__heap';

const PROBE_SOURCE = `
const self = $0, send = $1, log = $2, step = $3;
let peak = 0, reported = 0;
function probe() {
  try {
    const s = self.getHeapStatisticsSync();
    const bytes = s.used_heap_size + s.externally_allocated_size;
    if (bytes > peak) peak = bytes;
    if (peak >= reported + step) { reported = peak; log('${HEAP_LOG_LEVEL}', '' + peak); }
  } catch {}
}
return {
  send: (id, op, a, b) => { probe(); send(id, op, a, b); },
  log: (level, message) => { probe(); log(level, message); },
  wrap: (entry) => async (arg) => { try { return await entry(arg); } finally { probe(); } },
  peak: () => peak,
};`;

export interface HeapProbe {
  /** The host callbacks for the prelude, each taking a reading first. */
  send: ivm.Reference;
  log: ivm.Reference;
  /** An entry of the prelude that takes a reading as its result settles. */
  wrap(entry: ivm.Reference): ivm.Reference;
  /** The highest reading so far (call only while the isolate is idle). */
  peak(): number;
  release(): void;
}

export function installHeapProbe(isolate: ivm.Isolate, context: ivm.Context, send: ivm.Callback, log: ivm.Callback): HeapProbe {
  const api = context.evalClosureSync(PROBE_SOURCE, [isolate, send, log, REPORT_STEP_BYTES], { result: { reference: true } }) as ivm.Reference;
  const wrapRef = api.getSync('wrap', { reference: true }) as ivm.Reference;
  const peakRef = api.getSync('peak', { reference: true }) as ivm.Reference;
  const probe: HeapProbe = {
    send: api.getSync('send', { reference: true }) as ivm.Reference,
    log: api.getSync('log', { reference: true }) as ivm.Reference,
    wrap(entry) {
      const wrapped = wrapRef.applySync(undefined, [entry.derefInto()], { result: { reference: true } }) as ivm.Reference;
      entry.release();
      return wrapped;
    },
    peak() {
      try {
        return isolate.isDisposed ? 0 : Number(peakRef.applySync(undefined, []));
      } catch {
        return 0;
      }
    },
    release() {
      for (const ref of [api, wrapRef, peakRef, probe.send, probe.log]) ref.release();
    },
  };
  return probe;
}
