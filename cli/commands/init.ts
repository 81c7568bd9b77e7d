/** `ferry init [dir]`: scaffold a scripts project (an example sync and action, a test, types, tsconfig). */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { HOST_OPTIONS, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { initTemplates, projectManifest } from '../init-templates.ts';
import { isNangoProject, NANGO_PLUGIN_HINT, nangoVitestConfig } from '../nango-project.ts';
import { createOutput } from '../output.ts';
import { FERRY_VERSION, ZOD_RANGE } from '../version.ts';

type Manifest = Record<string, unknown> & {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};

/**
 * Adds what the project lacks to its package.json (or writes a new one), keeping everything the
 * user has: a dependency already listed in either section (say, a tarball or a workspace link)
 * stays as it is, and so do an existing `test` script and the user's own allowScripts entries.
 * Returns null when nothing changes.
 */
async function mergeManifest(path: string, root: string): Promise<{ text: string; created: boolean } | null> {
  const existing = existsSync(path) ? (JSON.parse(await readFile(path, 'utf8')) as Manifest) : null;
  const manifest: Manifest = existing ? structuredClone(existing) : { name: basename(root).toLowerCase().replace(/[^a-z0-9-._~]/g, '-'), version: '0.0.0', private: true, type: 'module' };
  const wanted = projectManifest({ ferry: FERRY_VERSION, zod: ZOD_RANGE });
  const listed = (name: string) => manifest.dependencies?.[name] !== undefined || manifest.devDependencies?.[name] !== undefined;
  for (const section of ['dependencies', 'devDependencies'] as const) {
    for (const [name, range] of Object.entries(wanted[section])) {
      if (!listed(name)) manifest[section] = { ...manifest[section], [name]: range };
    }
  }
  for (const [name, command] of Object.entries(wanted.scripts)) {
    const current = manifest.scripts?.[name];
    // `npm init -y` writes a test script that only fails; that one is replaced.
    if (current === undefined || /no test specified/.test(current)) manifest.scripts = { ...manifest.scripts, [name]: command };
  }
  for (const [name, allowed] of Object.entries(wanted.allowScripts)) {
    if (manifest.allowScripts?.[name] === undefined) manifest.allowScripts = { ...manifest.allowScripts, [name]: allowed };
  }
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (existing && JSON.stringify(existing) === JSON.stringify(manifest)) return null;
  return { text, created: existing === null };
}

const help = `Usage: ferry init [dir] [--force] [--json]

Creates a scripts project in dir (default: the current directory): an incremental sync and an
action for the demo CRM, a test that replays recorded responses, a tsconfig.json, and a README
with the next commands. package.json gets what the project lacks (ferry and zod at this
version, vitest, a test script, npm's allowScripts entries for the install scripts of what
ferry installs); what it has is kept. Other existing files are kept unless
--force.

In a Nango project (its package.json lists nango, it has a nango.yaml, or its
<integration>/{syncs,actions} scripts import nango), init writes no example scripts: it writes
the vitest.config.ts that runs the project's own tests on Ferry (the nangoTests() plugin, over
the project's vite.config when it has one), so npm test runs them unmodified. A vitest.config
the project already has is not rewritten; init says what to add to it.

Options:
  --force      overwrite files that exist
  --json       print the files written as JSON
  -h, --help   show this help

Exit codes: 0 created, 2 usage`;

export const initCommand: Command = {
  name: 'init',
  summary: 'scaffold a scripts project (example sync and action, test, tsconfig)',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: HOST_OPTIONS.json, help: HOST_OPTIONS.help, force: { type: 'boolean', default: false } });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 1) throw new UsageError('give at most one directory: ferry init [dir]');
      const root = resolve(positionals[0] ?? '.');
      const written: string[] = [];
      const kept: string[] = [];
      const updated: string[] = [];
      await mkdir(root, { recursive: true });
      const manifestPath = join(root, 'package.json');
      const nango = await isNangoProject(root, existsSync(manifestPath) ? (JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest) : null);
      const manifest = await mergeManifest(manifestPath, root);
      if (manifest) {
        await writeFile(join(root, 'package.json'), manifest.text);
        (manifest.created ? written : updated).push('package.json');
      } else {
        kept.push('package.json');
      }
      // A Nango project keeps its own layout: what it needs is the config that runs its tests on Ferry.
      const vitestConfig = nango ? await nangoVitestConfig(root) : null;
      const templates: Record<string, string> = !vitestConfig ? initTemplates() : vitestConfig.action === 'write' ? { [vitestConfig.file]: vitestConfig.text } : {};
      if (vitestConfig && vitestConfig.action !== 'write') kept.push(vitestConfig.file);
      for (const [file, content] of Object.entries(templates)) {
        const path = join(root, file);
        if (existsSync(path) && !values.force) {
          kept.push(file);
          continue;
        }
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, content);
        written.push(file);
      }
      const addPlugin = vitestConfig?.action === 'add-plugin' ? vitestConfig.file : undefined;
      out.json({ ok: true, dir: root, nango, written, updated, kept, ...(addPlugin && { addPlugin: { file: addPlugin, hint: NANGO_PLUGIN_HINT } }) });
      out.line(nango ? `Set up the Nango project in ${root} to run on Ferry:` : `Created a scripts project in ${root}:`);
      for (const file of written) out.line(`  + ${file}`);
      for (const file of updated) out.line(`  ~ ${file} (added what Ferry needs)`);
      for (const file of kept) {
        const why = file === 'package.json' ? 'has what Ferry needs' : file === vitestConfig?.file ? (addPlugin ? `yours, left as it is: ${NANGO_PLUGIN_HINT}` : 'loads nangoTests()') : '--force to overwrite';
        out.line(`  = ${file} (exists; ${why})`);
      }
      const fromCwd = relative(process.cwd(), root);
      const cd = fromCwd.startsWith('..') ? root : fromCwd;
      if (nango) {
        out.line(['', 'Next:', ...(cd ? [`  cd ${cd}`] : []),
          '  npm install                 # ferry and vitest',
          "  npm test                    # the project's own tests, unmodified, each script run in Ferry's runtime",
          '  npx ferry compile           # type-check and bundle, errors at file:line',
        ].join('\n'));
        return EXIT.OK;
      }
      out.line([
        '', 'Next:', ...(cd ? [`  cd ${cd}`] : []),
        '  npm install                 # ferry, zod and vitest',
        '  npx ferry dev --demo        # Ferry with the demo providers; saved scripts are redeployed',
        '  npx ferry dryrun contacts --connection demo-connection --save   # run once, record the real answers as the fixture',
        '  npm test                    # run the tests next to the scripts (vitest)',
      ].join('\n'));
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
