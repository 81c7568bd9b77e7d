/**
 * After `tsc -b tsconfig.build.json` has emitted each workspace's JavaScript, declarations and
 * source maps into <dir>/dist, this turns every dist folder into the package that gets packed:
 * a package.json whose exports, types and bin point at the built .js and .d.ts (the workspace's
 * own package.json points at the .ts sources, which the repository runs directly), plus the
 * files that are read at run time rather than imported (SQL migrations, JSON, the prelude).
 * It also refuses a package that imports a module its package.json does not declare.
 */
import { builtinModules } from 'node:module';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import ts from 'typescript';
import { PACKAGE_DIRS } from './packages.ts';

const ROOT = join(import.meta.dirname, '..');
const SKIPPED_DIRS = new Set(['dist', 'node_modules']);
const SOURCE_ONLY = new Set(['package.json', 'tsconfig.json']);
const BUILTINS = new Set(builtinModules);

interface SourcePackage {
  name: string;
  version: string;
  /** A .ts target (a workspace run from its sources), or conditions already naming JavaScript (packages/postgres). */
  exports?: Record<string, string | Record<string, string>>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  /** What the installing project brings (vitest for ferry/testing's Nango mocks): imported, never installed by us. */
  peerDependencies?: Record<string, string>;
  [field: string]: unknown;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) yield* walk(path);
    } else {
      yield path;
    }
  }
}

const built = (target: string) => target.replace(/\.tsx?$/, '.js');
const declared = (target: string) => target.replace(/\.tsx?$/, '.d.ts');

function publishedManifest(source: SourcePackage): Record<string, unknown> {
  const { exports = {}, bin, ...rest } = source;
  const manifest: Record<string, unknown> = {
    ...rest,
    exports: Object.fromEntries(Object.entries(exports).map(([path, target]) => [path, typeof target === 'string' ? { types: declared(target), default: built(target) } : target])),
  };
  const main = exports['.'];
  if (typeof main === 'string') manifest['types'] = declared(main);
  if (bin) manifest['bin'] = Object.fromEntries(Object.entries(bin).map(([name, target]) => [name, built(target)]));
  return manifest;
}

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

async function undeclaredImports(distDir: string, source: SourcePackage): Promise<string[]> {
  const allowed = new Set([source.name, ...Object.keys(source.dependencies ?? {}), ...Object.keys(source.peerDependencies ?? {})]);
  const problems: string[] = [];
  for await (const file of walk(distDir)) {
    if (!file.endsWith('.js')) continue;
    const text = await readFile(file, 'utf8');
    // TypeScript's scanner: import statements and import() calls, not text inside strings.
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (specifier.startsWith('.') || specifier.startsWith('node:') || BUILTINS.has(specifier)) continue;
      if (!allowed.has(packageOf(specifier))) problems.push(`${relative(ROOT, file)} imports "${specifier}", which is not in the dependencies of ${source.name}`);
    }
  }
  return problems;
}

async function stage(dir: string): Promise<string[]> {
  const sourceDir = join(ROOT, dir);
  const distDir = join(sourceDir, 'dist');
  const source = JSON.parse(await readFile(join(sourceDir, 'package.json'), 'utf8')) as SourcePackage;
  for await (const file of walk(sourceDir)) {
    const name = relative(sourceDir, file);
    // Sources stay out of the package, except declarations (sdk/globals.d.ts) and the in-isolate
    // SDK, which the runtime bundles at start-up (runtime/worker/prelude-build.ts).
    const shipsSource = name.endsWith('.d.ts') || name.startsWith(`worker${sep}prelude${sep}`);
    if ((/\.tsx?$/.test(name) && !shipsSource) || SOURCE_ONLY.has(basename(name))) continue;
    await mkdir(dirname(join(distDir, name)), { recursive: true });
    await copyFile(file, join(distDir, name));
  }
  await writeFile(join(distDir, 'package.json'), `${JSON.stringify(publishedManifest(source), null, 2)}\n`);
  return undeclaredImports(distDir, source);
}

const problems = (await Promise.all(PACKAGE_DIRS.map(stage))).flat();
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\nAdd each to that workspace's package.json dependencies (same range as the root package.json).\n`);
  process.exit(1);
}
process.stdout.write(`staged ${PACKAGE_DIRS.length} packages: ${PACKAGE_DIRS.map((d) => `${d}/dist`).join(', ')}\n`);
