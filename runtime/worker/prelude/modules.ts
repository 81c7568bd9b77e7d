/**
 * The modules the runtime provides to bundles instead of each bundle inlining them (cli/bundle.ts
 * marks them external): zod and the SDK, so a script's bundle holds its own code only. A bundle
 * asks for them through the global `__ferry_require(name)`; each is initialised on first request,
 * once per run's context, so a script sees its own copy — or, for a bundle that imports zod, once
 * in the snapshot its contexts are deserialised from (isolates.ts), which gives each run a copy
 * no other run touched just the same.
 */
import * as sdk from '@ferry/sdk';
import { defineGlobal } from './builtins.ts';
import { sdkError } from './host.ts';

// esbuild bundles each require() as a module initialised on its first call.
declare const require: (id: string) => unknown;

export const RUNTIME_MODULES: Record<string, () => unknown> = {
  zod: () => require('zod'),
  'zod/v4': () => require('zod/v4'),
  'ferry/sdk': () => sdk,
  nango: () => sdk,
};

export function installModules(): void {
  defineGlobal('__ferry_require', (name: unknown) => {
    const load = typeof name === 'string' && Object.hasOwn(RUNTIME_MODULES, name) ? RUNTIME_MODULES[name] : undefined;
    if (!load) throw sdkError('BAD_SCRIPT', `the runtime provides no module "${String(name)}" (it provides ${Object.keys(RUNTIME_MODULES).join(', ')})`);
    return load();
  });
}

/**
 * Initialises every runtime module, then builds (and drops) a schema of the kinds scripts declare,
 * run when the snapshot is made so no run pays for either. zod does work on its first schema in a
 * realm that later ones skip (its eval probe, lazily filled caches, V8's first calls into each of
 * its constructors): done here, the first `z.object` in each run's context costs what a second
 * one did (a warm no-op run's top level, 2.0 → 1.0 ms). Nothing of the schema stays reachable.
 */
export function preloadModules(): void {
  for (const load of Object.values(RUNTIME_MODULES)) load();
  const { z } = require('zod') as typeof import('zod');
  z.object({ id: z.string(), count: z.number().optional(), tags: z.array(z.string()).nullable(), kind: z.enum(['a', 'b']), flag: z.boolean(), extra: z.record(z.string(), z.unknown()) });
}
