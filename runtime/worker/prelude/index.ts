/**
 * The in-isolate SDK. Built into one script (runtime/worker/prelude-build.ts) that the worker
 * runs in each run's fresh context before the script's bundle — or once, with `preload` called,
 * in the snapshot that context is made from (isolates.ts); either way it yields `install`,
 * which the worker calls with:
 *   send(id, op, a, b)  host callback (ignored mode): asks the worker to do `op`; the worker
 *                       answers later through `deliver(id, ok, value)`.
 *   log(level, message) host callback (ignored mode).
 *   caps                JSON text of runtime/caps.ts.
 *   random(n)           host callback (sync): n random bytes as hex, for `crypto`.
 *   heap                the run's isolate (isolated-vm's handle), whose heap the prelude reads
 *                       at each call into the SDK (heap.ts); null reads nothing.
 * It returns { deliver, run, describe, heapPeak }; the worker holds References to them, the
 * script cannot.
 * Everything crossing is a string or a primitive.
 */
import type { Caps } from '../../caps.ts';
import { parse } from './builtins.ts';
import { describe, run } from './entries.ts';
import { installGuards } from './guards.ts';
import { heapPeak, probeHeap, setHeapSource, type HeapSource } from './heap.ts';
import { deliver, setHost, type HostLogFn, type SendFn } from './host.ts';
import { installConsole } from './logs.ts';
import { installModules, preloadModules } from './modules.ts';
import { installTimers } from './timers.ts';
import { installWeb, type RandomFn } from './web/index.ts';

export interface PreludeApi {
  deliver: typeof deliver;
  run: typeof run;
  describe: () => Promise<string>;
  heapPeak: typeof heapPeak;
}

export function install(send: SendFn, log: HostLogFn, capsJson: string, random: RandomFn, heap: HeapSource | null): PreludeApi {
  setHeapSource(heap, log);
  setHost(
    (id, op, a, b) => {
      probeHeap();
      send(id, op, a, b);
    },
    (level, message) => {
      probeHeap();
      log(level, message);
    },
    parse(capsJson) as Caps,
  );
  installGuards();
  installConsole();
  installTimers();
  installWeb(random);
  installModules();
  return {
    deliver,
    // A reading as each entry settles: a run's last synchronous stretch is seen too.
    run: async (jobJson) => {
      try {
        return await run(jobJson);
      } finally {
        probeHeap();
      }
    },
    describe: async () => {
      try {
        return describe();
      } finally {
        probeHeap();
      }
    },
    heapPeak,
  };
}

/** Initialises zod and the SDK ahead of any run: called once, when the snapshot is made. */
export function preload(): void {
  preloadModules();
}
