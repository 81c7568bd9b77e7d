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
 * Garbage that runs following each other at once may leave before a collection anyway: the most
 * of earlier runs' garbage a run's peak heap can include.
 */
const COLLECT_BUSY_BYTES = 4 * 1024 * 1024;
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
  /** Heap bytes live after the last collection. */
  liveBytes: number;
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
    entry.prelude = entry.script = entry.gcContext = null;
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
    if (heavy || used - entry.liveBytes > COLLECT_BUSY_BYTES) return collect(entry);
    entry.collectTimer = setTimeout(() => {
      entry.collectTimer = null;
      if (isIdle(entry)) collect(entry);
    }, COLLECT_IDLE_MS);
    entry.collectTimer.unref();
  }

  /** Runs `gc()` in the entry's own context, then retires it if what is live is heavy. */
  function collect(entry: Entry): void {
    try {
      entry.gcContext ??= emptyContext(entry.isolate);
    } catch {
      return retire(entry);
    }
    entry.gcContext.eval('gc()').then(
      () => {
        // Leased again meanwhile: the isolate may be running, and its release will judge it.
        if (!isIdle(entry)) return;
        const live = heapBytes(entry);
        if (live === null || isHeavy(entry, live)) retire(entry);
        else entry.liveBytes = live;
      },
      () => retire(entry),
    );
  }

  /**
   * A context for `gc()` alone, emptied of everything on its global but `gc`: it lives as long as
   * its isolate and each collection marks what it holds, which from ZOD_SNAPSHOT is another copy
   * of the prelude and zod (~0.9 MB, a quarter of what stays live: 3.8 → 2.9 MB, and of each
   * collection's marking). What the realm itself needs stays reachable from its native context.
   */
  function emptyContext(isolate: ivm.Isolate): ivm.Context {
    const context = isolate.createContextSync();
    context.evalSync(`((global) => { for (const key of Reflect.ownKeys(global)) if (key !== 'gc') delete global[key]; })(globalThis)`);
    return context;
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
        entry = { key, isolate, fromZodSnapshot, prelude: null, script: null, gcContext: null, liveBytes: 0, collectTimer: null, memoryMb: request.memoryMb, idleSince: 0 };
      }
      const held = entry;
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
