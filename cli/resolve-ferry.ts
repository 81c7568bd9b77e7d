/**
 * Where the modules scripts import live, found through Node's resolution from this file: the
 * `.ts` sources in Ferry's repository (workspace links), the built `.js` with `.d.ts` beside it
 * in an installed project. Nothing here assumes a checkout layout.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const resolvePath = (specifier: string) => fileURLToPath(import.meta.resolve(specifier));

export const SDK_ENTRY = resolvePath('@ferry/sdk');
/** `@ferry/testing` depends on the CLI, not the other way round: present in a scripts project (through `ferry`), maybe not elsewhere. */
export const TESTING_ENTRY = (() => {
  try {
    return resolvePath('@ferry/testing');
  } catch {
    return null;
  }
})();
/** zod's package folder, and the node_modules folder holding it (esbuild's fallback for scripts). */
export const ZOD_DIR = dirname(resolvePath('zod/package.json'));
export const FERRY_NODE_MODULES = join(ZOD_DIR, '..');

/** What TypeScript should read for a resolved module: the `.d.ts` beside a built `.js`, or the `.ts` source itself. */
export function typesOf(entry: string): string {
  const declaration = entry.replace(/\.js$/, '.d.ts');
  return declaration !== entry && existsSync(declaration) ? declaration : entry;
}
