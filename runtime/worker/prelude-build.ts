/**
 * Builds the in-isolate SDK (runtime/worker/prelude/, TypeScript) into the one script a worker
 * child runs in each context, or once in its isolates' snapshot (isolates.ts). Evaluating the
 * script yields the prelude's `{ install, preload }`; nothing is left on the context's global
 * object. Built once per process, at first use.
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

// The same extension as this module: `.ts` sources in the repository, built `.js` in a package.
const ENTRY = fileURLToPath(new URL(`./prelude/index${extname(import.meta.url)}`, import.meta.url));

export interface BuiltPrelude {
  code: string;
  /** sha256 hex of `code`: keys the V8 code cache, which must name one exact source. */
  hash: string;
}

let built: BuiltPrelude | null = null;

export function buildPrelude(): BuiltPrelude {
  if (built) return built;
  const result = buildSync({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2022',
    // Fully minified: the prelude (with core-js) is compiled in every fresh isolate, and half
    // its size costs ~0.5 ms there; a script's own frames keep their names.
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const body = result.outputFiles[0]?.text ?? '';
  // A CommonJS module scope of its own, whose value is `{ install, preload }` (plain values:
  // esbuild's exports are getters, which isolated-vm's References do not read).
  const code = `(function () {\nvar module = { exports: {} }, exports = module.exports;\n${body}\nreturn { install: module.exports.install, preload: module.exports.preload };\n})()`;
  built = { code, hash: createHash('sha256').update(code).digest('hex') };
  return built;
}
