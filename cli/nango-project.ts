/**
 * What `ferry init` needs to know of a Nango project it is run in, so the project's own tests run
 * on Ferry right after it: the vitest config to write (the `nangoTests()` plugin, over the
 * project's own vite config when it has one), or why none is written.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const CONFIG_EXTENSIONS = ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs'];
const SCRIPT = /\.[cm]?[jt]s$/;
/** A script's `nango` import, as Nango's scripts write it. */
const IMPORTS_NANGO = /\bfrom\s+['"]nango['"]/;

function firstExisting(root: string, stem: string): string | null {
  for (const ext of CONFIG_EXTENSIONS) if (existsSync(join(root, `${stem}.${ext}`))) return `${stem}.${ext}`;
  return null;
}

/** Whether the folders a Nango project keeps its scripts in (`<integration>/{syncs,actions}/*.ts`) hold one importing `nango`. */
async function hasNangoScripts(root: string): Promise<boolean> {
  const entries = await readdir(root, { withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    for (const kind of ['syncs', 'actions']) {
      const folder = join(root, entry.name, kind);
      if (!existsSync(folder)) continue;
      for (const file of await readdir(folder)) {
        if (SCRIPT.test(file) && !file.includes('.test.') && IMPORTS_NANGO.test(await readFile(join(folder, file), 'utf8'))) return true;
      }
    }
  }
  return false;
}

/** A Nango project: its package.json lists `nango`, it has a `nango.yaml`, or its scripts import `nango`. */
export async function isNangoProject(root: string, manifest: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> } | null): Promise<boolean> {
  if (manifest?.dependencies?.['nango'] !== undefined || manifest?.devDependencies?.['nango'] !== undefined) return true;
  if (existsSync(join(root, 'nango.yaml'))) return true;
  return hasNangoScripts(root);
}

export type NangoVitestConfig =
  | { action: 'write'; file: string; text: string }
  /** The project's vitest config already loads the plugin. */
  | { action: 'kept'; file: string }
  /** The project has its own vitest config without the plugin: init does not rewrite it, it says what to add. */
  | { action: 'add-plugin'; file: string };

const HEADER = [
  '// Runs this Nango project\'s tests on Ferry (written by `ferry init`): `nango/test` is Ferry\'s mocks',
  '// and each script\'s `exec` runs it in Ferry\'s runtime, as a deploy would. See Ferry\'s docs/testing-scripts.md.',
];

/** The vitest config `ferry init` gives a Nango project, from what the project already has. */
export async function nangoVitestConfig(root: string): Promise<NangoVitestConfig> {
  const vitestConfig = firstExisting(root, 'vitest.config');
  if (vitestConfig) {
    const text = await readFile(join(root, vitestConfig), 'utf8');
    return { action: /\bnangoTests\b/.test(text) ? 'kept' : 'add-plugin', file: vitestConfig };
  }
  // vitest.config.* wins over vite.config.*, so the new file can extend the project's own and change nothing else.
  const viteConfig = firstExisting(root, 'vite.config');
  if (viteConfig) {
    return {
      action: 'write',
      file: 'vitest.config.ts',
      text: [
        ...HEADER,
        "import { defineConfig, mergeConfig } from 'vitest/config';",
        "import { nangoTests } from 'ferry/testing/vitest';",
        `import project from './${viteConfig}';`,
        '',
        '// The project\'s own config (its include, setupFiles…) with the plugin added.',
        'export default defineConfig(async (env) =>',
        "  mergeConfig(typeof project === 'function' ? await project(env) : project, { plugins: [nangoTests()] }),",
        ');',
        '',
      ].join('\n'),
    };
  }
  const setup = firstExisting(root, 'vitest.setup');
  return {
    action: 'write',
    file: 'vitest.config.ts',
    text: [
      ...HEADER,
      "import { defineConfig } from 'vitest/config';",
      "import { nangoTests } from 'ferry/testing/vitest';",
      '',
      `export default defineConfig({ plugins: [nangoTests()]${setup ? `, test: { setupFiles: '${setup}' }` : ''} });`,
      '',
    ].join('\n'),
  };
}

/** What to add to a vitest config by hand, for the one case init leaves to the user. */
export const NANGO_PLUGIN_HINT = "import { nangoTests } from 'ferry/testing/vitest' and add plugins: [nangoTests()]";
