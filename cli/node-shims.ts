/**
 * The few Node built-ins Nango's runner gives scripts, given to them here by the bundler instead:
 * pure JavaScript bundled into the scripts that use them, so a script runs unmodified in the
 * isolate (which has no Node) on every path that bundles it — `ferry compile`, `ferry/testing`,
 * `ferry dryrun` and a deploy. `Buffer` (the global, and `buffer`) is the `buffer` package,
 * taught `base64url` (./node-shims/buffer);
 * `crypto` is ./node-shims/crypto (hashes, HMAC, random bytes, UUIDs); `url` is the isolate's own
 * URL and URLSearchParams. Every other built-in is still refused at bundle time (bundle.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';

const here = fileURLToPath(import.meta.url);
/** A module of ./node-shims, with this file's extension (.ts in the repository, .js once built). */
const shim = (name: string) => here.replace(/node-shims(\.[cm]?[jt]s)$/, `node-shims/${name}$1`);

/** The folder of Ferry's shims: their code is Ferry's, never the script author's (own-source-map.ts). */
export const SHIMS_DIR = here.replace(/node-shims\.[cm]?[jt]s$/, 'node-shims');
/** The `Buffer` global's declaration, for `ferry compile`. */
export const SHIM_GLOBALS = here.replace(/node-shims\.[cm]?[jt]s$/, 'node-shims/globals.d.ts');
/** Injected into every bundle; esbuild keeps it only where the script names `Buffer`. */
export const BUFFER_GLOBAL = shim('buffer-global');

/** Each provided built-in's module (`ferry compile` checks scripts against its declarations). */
export const PROVIDED: Readonly<Record<'buffer' | 'crypto' | 'url', string>> = { buffer: shim('buffer'), crypto: shim('crypto'), url: shim('url') };

/** The built-ins this plugin provides, with or without `node:`. */
export function providedBuiltin(specifier: string): string | undefined {
  return (PROVIDED as Record<string, string>)[specifier.replace(/^node:/, '')];
}

/** Ferry's own shim files load in a namespace of their own, so source maps leave them out as they leave out packages. */
const SHIM_NAMESPACE = 'ferry-node-shim';

export function nodeShims(): Plugin {
  return {
    name: 'ferry-node-shims',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^(node:)?(buffer|crypto|url)$/ }, (args) => {
        // Side-effect free: an unused import (the injected Buffer in a script without one) is dropped.
        return { path: providedBuiltin(args.path)!, sideEffects: false, namespace: SHIM_NAMESPACE };
      });
      pluginBuild.onLoad({ filter: /.*/, namespace: SHIM_NAMESPACE }, (args) => ({
        contents: readFileSync(args.path, 'utf8'),
        loader: args.path.endsWith('.ts') ? 'ts' : 'js',
        resolveDir: dirname(args.path),
      }));
    },
  };
}
