/**
 * `ferry/testing/vitest`: the vitest plugin under which a Nango project's tests run unmodified
 * against Ferry's runtime.
 *
 *   // vitest.config.ts
 *   import { defineConfig } from 'vitest/config';
 *   import { nangoTests } from 'ferry/testing/vitest';
 *   export default defineConfig({ plugins: [nangoTests()] });
 *
 * `nango/test` resolves to Ferry's `NangoSyncMock` / `NangoActionMock` (reading the same
 * `tests/<name>.test.json` fixtures), and a script's `nango` import resolves to Ferry's SDK, with
 * `createSync`/`createAction` whose `exec(nangoMock)` runs the script in Ferry's runtime.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NangoProviderEntry } from './nango-script.ts';

const here = fileURLToPath(import.meta.url);
/** A module beside this one, with this one's extension (.ts in the repository, .js once built). */
const sibling = (name: string) => here.replace(/vitest(\.[cm]?[jt]s)$/, `${name}$1`);
// require.resolve, not import.meta.resolve: vite may load a config (and so this module) as CommonJS.
const SDK = createRequire(import.meta.url).resolve('@ferry/sdk');
const SCRIPT_MODULE = '\0ferry-nango-script:';
/** A script file as Nango lays them out: `<provider>/{syncs,actions}/<name>.ts`. */
const SCRIPT_FILE = /[\\/](syncs|actions)[\\/][^\\/]+\.[cm]?[jt]s$/;

export interface NangoTestsOptions {
  /** Pagination defaults and headers of providers Ferry's built-in catalog lacks, by provider folder name. */
  providers?: Record<string, NangoProviderEntry>;
}

/** A vite plugin (typed structurally, so a project needs no vite types of its own). */
export function nangoTests(options: NangoTestsOptions = {}) {
  return {
    name: 'ferry-nango-tests',
    enforce: 'pre' as const,
    config: () => ({ test: { setupFiles: [sibling('nango-setup')] } }),
    resolveId(source: string, importer: string | undefined): string | undefined {
      if (source === 'nango/test') return sibling('nango-mock');
      if (source !== 'nango') return undefined;
      const from = importer?.split('?')[0];
      // The script's own createSync/createAction run it in the runtime; its helpers get the SDK as it is.
      return from && SCRIPT_FILE.test(from) && !/\.test\.[cm]?[jt]s$/.test(from) ? `${SCRIPT_MODULE}${from}` : SDK;
    },
    load(id: string): string | undefined {
      if (!id.startsWith(SCRIPT_MODULE)) return undefined;
      const file = id.slice(SCRIPT_MODULE.length);
      return [
        `import { nangoScriptModule } from ${JSON.stringify(sibling('nango-script'))};`,
        `export * from ${JSON.stringify(SDK)};`,
        `const sdk = nangoScriptModule(${JSON.stringify(file)}, ${JSON.stringify(options.providers ?? {})});`,
        'export const createSync = sdk.createSync;',
        'export const createAction = sdk.createAction;',
      ].join('\n');
    },
  };
}
