/** What the prelude takes away from or wraps in a script's realm before the script runs. */
import { RangeErrorCtor, ReflectConstruct, TypeErrorCtor, defineGlobal, defineProperty, global, hasOwn } from './builtins.ts';
import { hasEnded, hostLog } from './host.ts';

export function installGuards(): void {
  // WebAssembly memory is allocated outside isolated-vm's memory limit (ArrayBuffers are counted,
  // wasm memories are not), so scripts get no WebAssembly: it cannot be bounded.
  delete global['WebAssembly'];
  // The worker child runs with --expose-gc so it can collect warm isolates between runs: a script
  // gets no `gc` (a forced full collection on demand is a way to burn the host's time). V8 makes
  // the binding non-configurable, so it is overwritten and frozen rather than deleted.
  if (hasOwn.call(global, 'gc')) defineProperty(global, 'gc', { value: undefined, writable: false });
  guardFinalizers();
  guardArrayBuffers();
}

/** A finalizer may run after its run ended (a warm isolate collects later): it runs nothing then. */
function guardFinalizers(): void {
  const FinalizationRegistryCtor = global.FinalizationRegistry;
  if (typeof FinalizationRegistryCtor !== 'function') return;
  const RunScopedFinalizationRegistry = class FinalizationRegistry<T> extends FinalizationRegistryCtor<T> {
    constructor(cleanup: (held: T) => void) {
      if (typeof cleanup !== 'function') throw new TypeErrorCtor('FinalizationRegistry: cleanup must be callable');
      super((held) => {
        if (!hasEnded()) cleanup(held);
      });
    }
  };
  defineGlobal('FinalizationRegistry', RunScopedFinalizationRegistry);
}

/**
 * isolated-vm refuses an ArrayBuffer past the memory limit with a catchable RangeError and looks
 * again only when the script yields, so a script catching refusals in a loop would run full GCs
 * for seconds. The first refusal tells the worker (which ends the run with MEMORY), and later
 * allocations through these constructors fail at once.
 */
function guardArrayBuffers(): void {
  let memoryRefused = false;
  const names = ['ArrayBuffer', 'SharedArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];
  for (const name of names) {
    const target = global[name];
    if (typeof target !== 'function') continue;
    const guarded: object = new Proxy(target, {
      construct(ctor, args, newTarget) {
        if (memoryRefused) throw new RangeErrorCtor('Array buffer allocation failed');
        try {
          return ReflectConstruct(ctor, args, newTarget === guarded ? ctor : newTarget);
        } catch (error) {
          if (error instanceof RangeErrorCtor && error.message === 'Array buffer allocation failed') {
            memoryRefused = true;
            hostLog('__memory', '');
          }
          throw error;
        }
      },
    });
    defineGlobal(name, guarded);
  }
}
