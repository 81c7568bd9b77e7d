/**
 * WHATWG globals taken from core-js-pure (a maintained, spec-tested implementation that touches
 * no global of its own): URL, URLSearchParams, structuredClone, atob, btoa, DOMException.
 * Evaluated with the prelude in each fresh context, so each run has its own copies, and only
 * when a script first reads one of them: most scripts never do, and initialising core-js costs
 * more than the rest of the prelude.
 */
import { defineProperty, global } from '../builtins.ts';

// esbuild bundles each require() as a module initialised on its first call.
declare const require: (id: string) => { default?: unknown } & Record<string, unknown>;

const loaders: Record<string, () => unknown> = {
  URL: () => require('core-js-pure/actual/url/index.js'),
  URLSearchParams: () => require('core-js-pure/actual/url-search-params/index.js'),
  structuredClone: () => require('core-js-pure/actual/structured-clone.js'),
  atob: () => require('core-js-pure/actual/atob.js'),
  btoa: () => require('core-js-pure/actual/btoa.js'),
  DOMException: () => require('core-js-pure/actual/dom-exception/index.js'),
};

const loaded = new Map<string, unknown>();
// core-js looks for a native implementation while it initialises: it must find none.
let loading = false;

function load(name: string): unknown {
  if (!loaded.has(name)) {
    loading = true;
    let mod: { default?: unknown };
    try {
      mod = loaders[name]!() as { default?: unknown };
    } finally {
      loading = false;
    }
    loaded.set(name, mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod);
    // core-js keeps its registry on the global object; its modules hold their own reference.
    delete global['__core-js_shared__'];
  }
  return loaded.get(name);
}

/** DOMException for the prelude's own errors (AbortSignal, crypto). */
export const domException = (): typeof globalThis.DOMException => load('DOMException') as typeof globalThis.DOMException;

/**
 * Each global starts as an accessor that loads its implementation and turns itself into the
 * plain data property a platform global is; assigning to it first replaces it as usual.
 */
export function installStandard(): void {
  for (const name of Object.keys(loaders)) {
    defineProperty(global, name, {
      configurable: true,
      enumerable: false,
      get() {
        if (loading) return undefined;
        const value = load(name);
        defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
        return value;
      },
      set(value: unknown) {
        defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
      },
    });
  }
}
