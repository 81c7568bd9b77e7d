/**
 * Where a run's isolate comes from.
 *   fresh  a new isolate for every run.
 *   warm   isolates kept per (environment, bundle hash, memory limit) in this worker child, with
 *          the bundle compiled once; every run still gets a fresh context (its own globals and
 *          built-ins), so nothing a run leaves in its realm is visible to the next.
 * A warm isolate never serves two environments or two script versions, never holds two runs at
 * once, and is dropped after any run that was stopped (limit, abort) or left its heap heavy.
 * Runs without an environment id always get a fresh isolate. Either way the isolate of a bundle
 * that imports zod is made from a snapshot holding the in-isolate SDK with zod initialised (see
 * ZOD_SNAPSHOT), any other from a bare one (BARE_SNAPSHOT), and the prelude (for other bundles)
 * and the bundle compile through this child's code cache.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import ivm from 'isolated-vm';
import { BUNDLE_URL } from '../contract.ts';
import { createCodeCache } from './code-cache.ts';
import { buildPrelude } from './prelude-build.ts';

/** The prelude, compiled in isolates made from BARE_SNAPSHOT; its cache is keyed by its hash. */
const PRELUDE = buildPrelude();
const PRELUDE_KEY = `ferry:prelude:${PRELUDE.hash}`;
/** The global under which a context made from the snapshot holds the prelude's `install`. */
const PRELUDE_GLOBAL = '__ferry_prelude_install';
/**
 * The isolates of a bundle that imports zod are made from this snapshot: the in-isolate SDK
 * (runtime/worker/prelude/) evaluated and its zod and SDK modules initialised. V8 makes each new
 * context by deserialising the snapshot's context, so a run still gets a realm of its own — its
 * copy of zod included — without initialising zod and the SDK again, which was most of a run's
 * cost to its child (a warm no-op sync run: 24–25 ms of CPU → 12.5–13.8 ms, on a loaded machine).
 * Deserialising that heap costs more than building a bare context and running the prelude from
 * the code cache, so a bundle that imports no zod gets isolates from BARE_SNAPSHOT (a warm
 * zod-free run: 5.7 ms as a plain context, 14 ms from this snapshot). Made once per child, at
 * start (~0.2 s).
 */
const ZOD_SNAPSHOT = ivm.Isolate.createSnapshot([{
  code: `(() => { const prelude = ${PRELUDE.code}; prelude.preload(); Object.defineProperty(globalThis, ${JSON.stringify(PRELUDE_GLOBAL)}, { value: prelude.install, configurable: true }); })();`,
  filename: 'ferry:prelude',
}]);
/**
 * The isolates of any other bundle: V8's own start-up heap, only made in this process (the
 * prelude then runs in each context, from the code cache), so that its hash seed is this
 * process's too (see `deserialiseWithoutRehashing`).
 */
const BARE_SNAPSHOT = ivm.Isolate.createSnapshot([]);

/**
 * Called once by the worker child after this module made its snapshots: from then on V8 does not
 * rehash what it deserialises. By default V8 gives each new isolate a random hash seed and
 * rehashes every hash table and re-sorts every descriptor array of each isolate and context it
 * deserialises to match it — ~20 % of creating a context from ZOD_SNAPSHOT (2.4 → 1.9 ms per
 * context, load ~20). Without, an isolate keeps the seed of the snapshot it is made from. Every
 * isolate here is made from one of the two snapshots above, each built in this process by an
 * isolate that drew a random seed before the flag was set: every isolate's seed stays random and
 * unknown outside this worker child, shared by the isolates of one child as it always was by the
 * contexts of one isolate (a script can only flood its own run's tables with it). Not applied at
 * import: another process importing this module (a test) may deserialise contexts of its own,
 * whose tables must still be rehashed to that process's seed; the worker child creates no context
 * but these isolates'.
 */
export function deserialiseWithoutRehashing(): void {
  setFlagsFromString('--no-rehash-snapshot');
}

/** How a bundle asks for zod (cli/bundle.ts); a bundle reaching it otherwise still works, only without the zod snapshot. */
const importsZod = (code: string): boolean => code.includes('__ferry_require("zod');

/**
 * With --expose-gc (the worker pool forks children with it), each isolate's contexts get a
 * `gc()`: the prelude disables it in every script context, and a warm isolate is collected
 * through a context of its own between runs, so a run's peak heap starts from what is live
 * rather than from the previous run's garbage.
 */
const GC_EXPOSED = typeof (globalThis as { gc?: unknown }).gc === 'function';

export type IsolateMode = 'fresh' | 'warm';

/** Idle warm isolates kept per worker child (each costs a few MB of RSS). */
const MAX_IDLE = 4;
/** An idle warm isolate unused this long is disposed. */
const IDLE_MS = 5 * 60_000;
/** A run that leaves more than this share of the memory limit in use retires its isolate. */
const RETIRE_AT_SHARE = 0.5;
/**
 * A warm isolate is collected once idle this long; collecting as soon as a run ends would make a
 * run that follows at once wait ~0.5 ms for it. Long enough that a child kept busy by a backlog
 * never collects on idleness alone, only past COLLECT_BUSY_BYTES: a full collection marks the
 * whole snapshot heap (~3.6 MB live) for ~4.5 ms of CPU, while a no-op run leaves ~1.3 MB (its
 * context), so at 10 ms (the host's settle and the next claim leave such gaps) the scheduler
 * bench's first-run burst paid a full collection per run: 11.0 → 6.4 ms of child CPU per warm
 * no-op run with 20 ms between runs (2026-12-02, load ~3.5).
 */
const COLLECT_IDLE_MS = 1_000;
/**
 * Garbage that runs following each other at once may leave before a collection anyway. A full
 * collection marks all that is live (~2.9 MB from ZOD_SNAPSHOT: the isolate's default context,
 * which isolated-vm makes at its creation and keeps, holds a whole copy of zod) whatever the
 * garbage, so its cost is per collection: past 6 MiB rather than 4, a busy isolate is collected
 * every ~5 no-op runs instead of every ~3 (child CPU per warm no-op run, 10 ms apart, load 15–23:
 * 4.67 / 4.44 ms at 4 MiB, 4.11 / 4.29 at 6, 4.41 / 3.96 at 8). Not more: past ~8 MiB V8 starts
 * marking on its own (its limit is ~4× what is live), on the thread allocating the next context,
 * and clears what `inheritedBytes` relies on. A run's peak leaves out the earlier runs' contexts
 * in that garbage (`inheritedBytes`), so it does not grow with the bound.
 */
const COLLECT_BUSY_BYTES = 6 * 1024 * 1024;
const MiB = 1024 * 1024;

export interface IsolateLease {
  readonly isolate: ivm.Isolate;
  /** True when this isolate already served a run (a warm start). */
  readonly warm: boolean;
  /**
   * The prelude's `install` in `context` (a fresh context of this isolate), taken off its global
   * object when the context came from the snapshot, so no script ever reaches it.
   */
  install(context: ivm.Context): ivm.Reference;
  /**
   * Resolves once a collection started between runs has ended (at once when none has), so that
   * a run that follows at once starts from the collected heap: its readings then include none of
   * the garbage that collection frees (it would wait for the isolate's thread anyway).
   */
  collected(): Promise<void>;
  /** A fresh context for the run (the isolate's first context also sizes the others: they are copies). */
  createContext(): ivm.Context;
  /**
   * Heap bytes earlier runs' contexts still hold as garbage in this isolate, or 0 when not known
   * for certain: read after the run (before `release`), it is what the run's samples of the heap
   * included of them throughout. A context is deserialised into the old generation, which only a
   * full collection frees, and a weak reference made at the isolate's last collection tells
   * whether another came since (V8's own, during the run or between runs): if one did, or none
   * was made yet, this is 0 and the run's peak counts them, as it did before.
   */
  inheritedBytes(): number;
  /** The bundle compiled in this isolate (kept with a warm isolate). */
  script(): Promise<ivm.Script>;
  /** Gives the isolate back: kept warm when `reusable` and healthy, otherwise disposed. */
  release(reusable: boolean): void;
}

export interface IsolateRequest {
  code: string;
  /**
   * sha256 of `code` (hex), when the caller has it, verified: it keys the warm isolate and the
   * code cache, and a cache under the wrong key would run another bundle's code.
   */
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
  /** Made from ZOD_SNAPSHOT; else the prelude is compiled and run in each context. */
  fromZodSnapshot: boolean;
  prelude: ivm.Script | null;
  script: ivm.Script | null;
  /** Where `gc()` is called between runs; no script ever runs in it. */
  gcContext: ivm.Context | null;
  /** That context's `collectAndMark` (see `emptyContext`). */
  collectAndMark: ivm.Reference<(isolate: ivm.Isolate) => { live: number; notCollectedSince: () => boolean }> | null;
  /** Heap bytes live after the last collection. */
  liveBytes: number;
  /** Heap bytes one context of this isolate takes when made (0 until its first). */
  contextBytes: number;
  /** Run contexts released since the last collection: garbage in the old generation. */
  releasedContexts: number;
  /** True while no full collection came after the last one made here (see `inheritedBytes`); null before the first. */
  notCollectedSince: ivm.Reference<() => boolean> | null;
  /** The collection under way, if one is. */
  collecting: Promise<void> | null;
  collectTimer: NodeJS.Timeout | null;
  memoryMb: number;
  idleSince: number;
}

export function createIsolateSource(options: { mode: IsolateMode; onCatastrophicError(message: string): void }): IsolateSource {
  const idle = new Map<string, Entry>();
  const codeCache = createCodeCache();

  function dispose(entry: Entry): void {
    if (entry.collectTimer) clearTimeout(entry.collectTimer);
    entry.collectTimer = null;
    entry.prelude?.release();
    entry.script?.release();
    entry.gcContext?.release();
    entry.collectAndMark?.release();
    entry.notCollectedSince?.release();
    entry.prelude = entry.script = entry.gcContext = entry.collectAndMark = entry.notCollectedSince = null;
    if (!entry.isolate.isDisposed) entry.isolate.dispose();
  }

  function hashOf(request: IsolateRequest): string {
    return request.codeHash ?? createHash('sha256').update(request.code).digest('hex');
  }

  /**
   * Judges an isolate just given back. It is collected (off any run's clock) once it has been
   * idle for COLLECT_IDLE_MS, or at once when runs back to back have left more than
   * COLLECT_BUSY_BYTES of garbage or it looks heavy; retired if what is live is heavy.
   */
  function judge(entry: Entry): void {
    const used = heapBytes(entry);
    if (used === null) return retire(entry);
    const heavy = isHeavy(entry, used);
    if (!GC_EXPOSED) {
      if (heavy) retire(entry);
      return;
    }
    // The first collection comes after the first run: from then on runs' peaks can leave out what earlier runs left.
    if (heavy || entry.collectAndMark === null || used - entry.liveBytes > COLLECT_BUSY_BYTES) return collect(entry);
    entry.collectTimer = setTimeout(() => {
      entry.collectTimer = null;
      if (isIdle(entry)) collect(entry);
    }, COLLECT_IDLE_MS);
    entry.collectTimer.unref();
  }

  /**
   * Runs `gc()` in the entry's own context, then retires it if what is live is heavy. The same
   * call reads what is live right after it (so a run leased meanwhile does not spoil the
   * reading) and leaves a weak reference to an object that lived through it, cleared by the next
   * full collection, whoever runs it (see `inheritedBytes`). The contexts released so far are
   * this collection's to free: counting starts again now.
   */
  function collect(entry: Entry): void {
    try {
      if (!entry.collectAndMark) {
        entry.gcContext = entry.isolate.createContextSync();
        entry.collectAndMark = emptyContext(entry.gcContext);
      }
    } catch {
      return retire(entry);
    }
    entry.notCollectedSince?.release();
    entry.notCollectedSince = null;
    entry.releasedContexts = 0;
    const collecting = entry.collectAndMark.apply(undefined, [entry.isolate], { result: { reference: true } }).then(
      (result) => {
        let live: number;
        let mark: ivm.Reference<() => boolean>;
        try {
          live = result.getSync('live', { copy: true }) as number;
          mark = result.getSync('notCollectedSince', { reference: true }) as ivm.Reference<() => boolean>;
        } catch {
          return retire(entry);
        } finally {
          result.release();
        }
        if (entry.isolate.isDisposed || entry.collectAndMark === null) return mark.release();
        entry.liveBytes = live;
        entry.notCollectedSince = mark;
        // Leased again meanwhile: the isolate may be running, and its release will judge it.
        if (isIdle(entry) && isHeavy(entry, live)) retire(entry);
      },
      () => retire(entry),
    ).finally(() => {
      if (entry.collecting === collecting) entry.collecting = null;
    });
    entry.collecting = collecting;
  }

  /**
   * Empties a context for `gc()` alone of everything on its global: it lives as long as its
   * isolate and each collection marks what it holds, which from ZOD_SNAPSHOT is another copy of
   * the prelude and zod (~0.9 MB, a quarter of what stays live: 3.8 → 2.9 MB, and of each
   * collection's marking). What the realm itself needs stays reachable from its native context.
   * Returns `collectAndMark(isolate)`: it collects, then reads the heap in use, and makes a weak
   * reference to an object that lived through the collection, with the function telling whether
   * it is still there: false once any later full collection ran (a scavenge does not clear it).
   */
  function emptyContext(context: ivm.Context): ivm.Reference<(isolate: ivm.Isolate) => { live: number; notCollectedSince: () => boolean }> {
    return context.evalSync(`((global) => {
      const gc = global.gc, WeakRefCtor = global.WeakRef;
      for (const key of Reflect.ownKeys(global)) delete global[key];
      return (isolate) => {
        const target = {};
        gc();
        const stats = isolate.getHeapStatisticsSync();
        const ref = new WeakRefCtor(target);
        return { live: stats.used_heap_size + stats.externally_allocated_size, notCollectedSince: () => ref.deref() !== undefined };
      };
    })(globalThis)`, { reference: true }) as ivm.Reference<(isolate: ivm.Isolate) => { live: number; notCollectedSince: () => boolean }>;
  }

  /** True when no full collection came since the entry's last one; false when unknown. */
  function notCollectedSince(entry: Entry): boolean {
    try {
      return entry.notCollectedSince?.applySync(undefined, []) === true;
    } catch {
      return false;
    }
  }

  function isHeavy(entry: Entry, heapBytes: number): boolean {
    return heapBytes > RETIRE_AT_SHARE * entry.memoryMb * MiB;
  }

  function isIdle(entry: Entry): boolean {
    return entry.key !== null && idle.get(entry.key) === entry;
  }

  /** Drops an idle entry (one leased again meanwhile is judged at its own release). */
  function retire(entry: Entry): void {
    if (!isIdle(entry)) return;
    idle.delete(entry.key!);
    dispose(entry);
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
    return `${request.environmentId}\0${hashOf(request)}\0${request.memoryMb}`;
  }

  /** Heap in use, ArrayBuffers included (they count against the limit); null if unreadable. */
  function heapBytes(entry: Entry): number | null {
    try {
      const stats = entry.isolate.getHeapStatisticsSync();
      return stats.used_heap_size + stats.externally_allocated_size;
    } catch {
      return null;
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
      if (entry) {
        idle.delete(key!);
        if (entry.collectTimer) clearTimeout(entry.collectTimer);
        entry.collectTimer = null;
      }
      else {
        const fromZodSnapshot = importsZod(request.code);
        const isolate = new ivm.Isolate({ memoryLimit: request.memoryMb, onCatastrophicError: options.onCatastrophicError, snapshot: fromZodSnapshot ? ZOD_SNAPSHOT : BARE_SNAPSHOT });
        entry = { key, isolate, fromZodSnapshot, prelude: null, script: null, gcContext: null, collectAndMark: null, liveBytes: 0, contextBytes: 0, releasedContexts: 0, notCollectedSince: null, collecting: null, collectTimer: null, memoryMb: request.memoryMb, idleSince: 0 };
      }
      const held = entry;
      const inheritedContexts = held.releasedContexts;
      let released = false;
      return {
        isolate: held.isolate,
        warm,
        install(context) {
          if (!held.fromZodSnapshot) {
            held.prelude ??= codeCache.compileSync(held.isolate, PRELUDE_KEY, PRELUDE.code, 'ferry:prelude');
            const prelude = held.prelude.runSync(context, { reference: true }) as ivm.Reference;
            try {
              return prelude.getSync('install', { reference: true }) as ivm.Reference;
            } finally {
              prelude.release();
            }
          }
          const install = context.global.getSync(PRELUDE_GLOBAL, { reference: true }) as ivm.Reference;
          context.global.deleteSync(PRELUDE_GLOBAL);
          return install;
        },
        collected() {
          return held.collecting ?? Promise.resolve();
        },
        createContext() {
          if (held.contextBytes > 0) return held.isolate.createContextSync();
          const before = heapBytes(held);
          const context = held.isolate.createContextSync();
          const after = heapBytes(held);
          if (before !== null && after !== null) held.contextBytes = Math.max(0, after - before);
          return context;
        },
        inheritedBytes() {
          if (inheritedContexts === 0 || held.isolate.isDisposed || !notCollectedSince(held)) return 0;
          return inheritedContexts * held.contextBytes;
        },
        async script() {
          held.script ??= await codeCache.compile(held.isolate, hashOf(request), request.code, BUNDLE_URL);
          return held.script;
        },
        release(reusable) {
          if (released) return;
          released = true;
          if (!reusable || held.key === null || held.isolate.isDisposed) {
            dispose(held);
            return;
          }
          held.idleSince = Date.now();
          // The run's context, released by its sandbox before this.
          held.releasedContexts++;
          idle.set(held.key, held);
          for (const [oldKey, old] of idle) {
            if (idle.size <= MAX_IDLE) break;
            idle.delete(oldKey);
            dispose(old);
          }
          judge(held);
        },
      };
    },
    clear() {
      for (const entry of idle.values()) dispose(entry);
      idle.clear();
    },
  };
}
