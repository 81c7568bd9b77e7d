/**
 * Bundles one script into a single IIFE the runtime can evaluate in an isolate: the script's own
 * code and what it imports, except the modules the runtime provides (`ferry/sdk`, `nango`, and
 * zod when the script's zod is the runtime's major version), which the bundle asks the isolate
 * for. Node built-ins are refused at bundle time, because the isolate has none of them, except
 * the few Nango's runner gives scripts (Buffer, crypto, url), which node-shims.ts bundles in.
 */
import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { build, type Message, type Plugin } from 'esbuild';
import { bundleHash } from '@ferry/runtime/bundle-hash';
import { BUFFER_GLOBAL, nodeShims } from './node-shims.ts';
import { ownSourceMap } from './own-source-map.ts';
import { FERRY_NODE_MODULES, SDK_ENTRY } from './resolve-ferry.ts';

/** The runtime reads the script's definition at `__ferry_module.default`. */
export const BUNDLE_GLOBAL_NAME = '__ferry_module';
export const DEFAULT_MAX_BUNDLE_BYTES = 5 * 1024 * 1024;

/** TYPE_ERROR: `ferry deploy`'s type-check refused the script (its files have type errors). */
export type BundleErrorCode = 'BUNDLE_FAILED' | 'FORBIDDEN_IMPORT' | 'TOO_LARGE' | 'TYPE_ERROR';

export class BundleError extends Error {
  readonly code: BundleErrorCode;
  /** esbuild's messages, each as `file:line:col message`. */
  readonly details: string[];
  constructor(code: BundleErrorCode, message: string, details: string[] = []) {
    super(details.length > 0 ? `${message}\n${details.map((d) => `  ${d}`).join('\n')}` : message);
    this.name = 'BundleError';
    this.code = code;
    this.details = details;
  }
}

export interface Bundle {
  code: string;
  /**
   * The bundle's source map, of the script's own files only (paths relative to the bundle's
   * root), so run errors name `file.ts:line:col`; null when none of it is the author's code.
   */
  sourceMap: string | null;
  /** sha256 hex of `code` and `sourceMap` (bundleHash): deploys compare it to skip unchanged scripts. */
  hash: string;
  bytes: number;
}

export interface BundleOptions {
  maxBytes?: number;
  /** What the source map's paths are relative to (default: the working directory). */
  root?: string;
  /**
   * What paths inside the code are relative to (default: the working directory): esbuild names
   * each bundled CommonJS module by its path. A deploy passes the scripts folder's parent, so
   * one checkout's bundle is byte for byte another's, wherever each is and is deployed from.
   */
  project?: string;
}

/**
 * The root a scripts folder's source paths are shown from: the working directory when the
 * folder is inside it (`scripts/demo/syncs/contacts.ts`), else the folder's parent.
 */
export function sourceRootFor(scriptsDir: string): string {
  const cwd = process.cwd();
  const dir = resolve(scriptsDir);
  const fromCwd = relative(cwd, dir);
  return fromCwd === '..' || fromCwd.startsWith(`..${sep}`) || isAbsolute(fromCwd) ? dirname(dir) : cwd;
}

const FORBIDDEN_HINT =
  'scripts run in an isolate without Node APIs: use ctx.get/post/proxy for HTTP and ctx.log for logging';
const FORBIDDEN_MARK = '[forbidden-import]';

const builtinNames = new Set(builtinModules.filter((name) => !name.startsWith('node:')));

/** The package a file inside node_modules belongs to (`@scope/name` or `name`), else null. */
function packageOf(file: string): string | null {
  const at = file.lastIndexOf('/node_modules/');
  if (at < 0) return null;
  const parts = file.slice(at + '/node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? null);
}

/** The package a bare import names: `lodash/fp` → `lodash`, `@scope/x/y` → `@scope/x`. */
function packageNamed(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Refuses `node:*` and bare built-in names (fs, child_process, fs/promises…). An import in the
 * script's own files is reported where it is; one deep inside a package is reported once, at the
 * script's import of the package that led there, so the user sees their line, not forty lines
 * from node_modules.
 */
function refuseNodeBuiltins(found: Message[]): Plugin {
  return {
    name: 'ferry-refuse-node-builtins',
    setup(pluginBuild) {
      // Who imported each package: a script file (with the import) or another package.
      const importers = new Map<string, { file: string; specifier: string } | { pkg: string }>();
      const needs = new Map<string, Set<string>>();
      pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
        const isBuiltin = args.path.startsWith('node:') || builtinNames.has(args.path);
        const from = packageOf(args.importer);
        if (!isBuiltin) {
          const pkg = packageNamed(args.path);
          if (!importers.has(pkg) && from !== pkg) importers.set(pkg, from === null ? { file: args.importer, specifier: args.path } : { pkg: from });
          return undefined;
        }
        // No location given: esbuild attaches the import statement's file:line:col itself.
        if (from === null) return { errors: [{ text: `${FORBIDDEN_MARK} import "${args.path}" is not allowed (${FORBIDDEN_HINT})` }] };
        let set = needs.get(from);
        if (!set) needs.set(from, (set = new Set()));
        set.add(args.path.replace(/^node:/, ''));
        return { path: args.path, namespace: 'ferry-node-builtin' };
      });
      pluginBuild.onLoad({ filter: /.*/, namespace: 'ferry-node-builtin' }, () => ({ contents: '', loader: 'js' }));
      pluginBuild.onEnd(() => {
        // Per script import: the packages under it that need Node, and which built-ins.
        const byImport = new Map<string, { file: string; specifier: string; builtins: Set<string>; via: Set<string> }>();
        for (const [pkg, builtins] of needs) {
          let current: string = pkg;
          const seen = new Set<string>();
          let origin = importers.get(current);
          while (origin && 'pkg' in origin && !seen.has(origin.pkg)) {
            seen.add(current);
            current = origin.pkg;
            origin = importers.get(current);
          }
          if (!origin || 'pkg' in origin) continue;
          const key = `${origin.file}\0${origin.specifier}`;
          const entry = byImport.get(key) ?? { file: origin.file, specifier: origin.specifier, builtins: new Set<string>(), via: new Set<string>() };
          for (const b of builtins) entry.builtins.add(b);
          if (pkg !== packageNamed(origin.specifier)) entry.via.add(pkg);
          byImport.set(key, entry);
        }
        for (const entry of byImport.values()) {
          const location = locate(entry.file, entry.specifier);
          const via = entry.via.size ? ` (through ${[...entry.via].sort().join(', ')})` : '';
          found.push({
            id: '', pluginName: 'ferry-refuse-node-builtins', notes: [], detail: undefined,
            text: `${FORBIDDEN_MARK} "${entry.specifier}" needs Node built-ins${via}: ${[...entry.builtins].sort().join(', ')}. ${PACKAGE_HINT}`,
            location,
          });
        }
      });
    },
  };
}

const PACKAGE_HINT =
  'Scripts run in an isolate without Node: call the provider over HTTP with nango.get/post/proxy (a SOAP call is a POST of the XML envelope as text), and use packages that run without Node (pure JavaScript)';

/** Where `file` imports `specifier` (line and column of the quoted name), for the one error. */
function locate(file: string, specifier: string): Message['location'] {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    // unreadable: the file alone
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const column = Math.max(line.indexOf(`'${specifier}'`), line.indexOf(`"${specifier}"`));
    if (column >= 0) return { file, namespace: 'file', line: i + 1, column, length: specifier.length + 2, lineText: line, suggestion: '' };
  }
  return { file, namespace: 'file', line: 1, column: 0, length: 0, lineText: lines[0] ?? '', suggestion: '' };
}

const RUNTIME_NAMESPACE = 'ferry-runtime';
const ZOD_MAJOR = zodMajor(createRequire(SDK_ENTRY));

/** Major version of the zod `require` finds, or null when it finds none. */
function zodMajor(require: NodeJS.Require): string | null {
  try {
    const version = JSON.parse(readFileSync(require.resolve('zod/package.json'), 'utf8')).version;
    return typeof version === 'string' ? version.split('.')[0]! : null;
  } catch {
    return null;
  }
}

/** The names each runtime zod entry exports (the runtime provides this same zod), or null if unreadable. */
function zodExports(require: NodeJS.Require, path: string): string[] | null {
  try {
    return Object.keys(require(path) as object).filter((name) => name !== 'default' && name !== '__esModule');
  } catch {
    return null;
  }
}
const ZOD_EXPORTS = new Map(['zod', 'zod/v4'].map((path) => [path, zodExports(createRequire(SDK_ENTRY), path)]));

/**
 * The module a bundle gets for a runtime module. zod's is ESM with one binding per export, so
 * esbuild links a script's `import { z } from 'zod'` straight to the runtime's value and drops
 * the unused ones: as CommonJS, every bundle's top level copied all ~260 of zod's exports onto a
 * getter object of its own on every run (~0.7 ms of a warm no-op run's CPU). A bundle importing
 * a name zod does not export now fails to bundle, as it would under Node; `import z from 'zod'`
 * is still the whole module, as before.
 */
function runtimeModuleSource(path: string): string {
  const load = `__ferry_require(${JSON.stringify(path)})`;
  const names = ZOD_EXPORTS.get(path);
  if (!names) return `module.exports = ${load};`;
  // Exported under their own names through locals: zod exports `enum`, `function`, `null`...
  const locals = names.map((name, i) => `const e${i} = /* @__PURE__ */ (() => m[${JSON.stringify(name)}])();`);
  return `const m = ${load};\nexport default m;\n${locals.join('\n')}\nexport { ${names.map((name, i) => `e${i} as ${name}`).join(', ')} };\n`;
}

/**
 * `ferry/sdk` and `nango` always come from the runtime (the SDK a script runs with is the
 * runtime's); `zod` and `zod/v4` too when the zod the script would bundle has the runtime's
 * major version, so 40 scripts do not carry 40 copies of it. Another major is bundled in.
 */
function runtimeModules(): Plugin {
  return {
    name: 'ferry-runtime-modules',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^(ferry\/sdk|nango|zod|zod\/v4)$/ }, (args) => {
        if (args.path.startsWith('zod')) {
          const own = zodMajor(createRequire(resolve(args.resolveDir || process.cwd(), 'index.js')));
          if (own !== null && own !== ZOD_MAJOR) return undefined;
        }
        return { path: args.path, namespace: RUNTIME_NAMESPACE };
      });
      pluginBuild.onLoad({ filter: /.*/, namespace: RUNTIME_NAMESPACE }, (args) => ({ contents: runtimeModuleSource(args.path), loader: 'js' }));
    },
  };
}

function formatMessage(message: Message, cwd: string, project: string): string {
  const text = message.text.replace(`${FORBIDDEN_MARK} `, '');
  const loc = message.location;
  if (!loc) return text;
  const absolute = resolve(project, loc.file);
  const fromCwd = relative(cwd, absolute);
  const file = fromCwd && !fromCwd.startsWith('..') ? fromCwd : absolute;
  return `${file}:${loc.line}:${loc.column + 1} ${text}`;
}

function isBuildFailure(error: unknown): error is { errors: Message[] } {
  return typeof error === 'object' && error !== null && Array.isArray((error as { errors?: unknown }).errors);
}

export async function bundleScript(entryPath: string, options: BundleOptions = {}): Promise<Bundle> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  const cwd = process.cwd();
  const root = resolve(options.root ?? cwd);
  const project = resolve(options.project ?? cwd);
  let code: string;
  let esbuildMap: string | undefined;
  // Packages that need Node, reported once each at the script's import of them.
  const packagesNeedingNode: Message[] = [];
  try {
    const result = await build({
      entryPoints: [resolve(entryPath)],
      absWorkingDir: project,
      bundle: true,
      write: false,
      format: 'iife',
      globalName: BUNDLE_GLOBAL_NAME,
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      // A script in a project without its own zod still finds the one Ferry depends on.
      nodePaths: [FERRY_NODE_MODULES],
      // The Buffer global, buffer, crypto and url come from node-shims.ts (in the bundles that use them); other built-ins are refused.
      plugins: [runtimeModules(), nodeShims(), refuseNodeBuiltins(packagesNeedingNode)],
      inject: [BUFFER_GLOBAL],
      // Whitespace and syntax only: identifiers stay readable in a script's stack traces.
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      // An external map (no comment in the code): the map's paths are relative to the outfile's
      // folder, which is never written (write: false).
      sourcemap: 'external',
      sourcesContent: false,
      outfile: join(root, 'ferry-bundle.js'),
      logLevel: 'silent',
    });
    code = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
    esbuildMap = result.outputFiles.find((f) => f.path.endsWith('.js.map'))?.text;
    if (packagesNeedingNode.length > 0) throw { errors: [] };
  } catch (error) {
    if (!isBuildFailure(error)) throw error;
    const errors = [...error.errors, ...packagesNeedingNode];
    const forbidden = errors.some((m) => m.text.startsWith(FORBIDDEN_MARK));
    const details = errors.map((m) => formatMessage(m, cwd, project));
    throw forbidden
      ? new BundleError('FORBIDDEN_IMPORT', `${entryPath}: imports a Node built-in`, details)
      : new BundleError('BUNDLE_FAILED', `${entryPath}: bundling failed`, details);
  }
  const bytes = Buffer.byteLength(code);
  if (bytes > maxBytes) {
    throw new BundleError('TOO_LARGE', `${entryPath}: bundle is ${bytes} bytes, over the ${maxBytes}-byte limit`);
  }
  const sourceMap = esbuildMap ? ownSourceMap(esbuildMap, root) : null;
  return { code, sourceMap, hash: bundleHash(code, sourceMap), bytes };
}

export { discoverScripts, type DiscoveredScript, type ScriptKind } from './discover.ts';
