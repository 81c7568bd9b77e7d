/**
 * Bundles one script into a single IIFE the runtime can evaluate in an isolate: everything the
 * script imports (zod included) is inlined, `ferry/sdk` and `nango` resolve to the SDK this CLI ships with,
 * and Node built-ins are refused at bundle time, because the isolate has none of them.
 */
import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { relative, resolve } from 'node:path';
import { build, type Message, type Plugin } from 'esbuild';
import { FERRY_NODE_MODULES, SDK_ENTRY } from './resolve-ferry.ts';

/** The runtime reads the script's definition at `__ferry_module.default`. */
export const BUNDLE_GLOBAL_NAME = '__ferry_module';
export const DEFAULT_MAX_BUNDLE_BYTES = 5 * 1024 * 1024;

export type BundleErrorCode = 'BUNDLE_FAILED' | 'FORBIDDEN_IMPORT' | 'TOO_LARGE';

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
  /** sha256 hex of `code`: deploys compare it to skip unchanged scripts. */
  hash: string;
  bytes: number;
}

const FORBIDDEN_HINT =
  'scripts run in an isolate without Node APIs: use ctx.get/post/proxy for HTTP and ctx.log for logging';
const FORBIDDEN_MARK = '[forbidden-import]';

const builtinNames = new Set(builtinModules.filter((name) => !name.startsWith('node:')));

/** Refuses `node:*` and bare built-in names (fs, child_process, fs/promises…). */
function refuseNodeBuiltins(): Plugin {
  return {
    name: 'ferry-refuse-node-builtins',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[a-z_][a-z0-9_/:]*$/i }, (args) => {
        const isBuiltin = args.path.startsWith('node:') || builtinNames.has(args.path);
        if (!isBuiltin) return undefined;
        // No location given: esbuild attaches the import statement's file:line:col itself.
        return { errors: [{ text: `${FORBIDDEN_MARK} import "${args.path}" is not allowed (${FORBIDDEN_HINT})` }] };
      });
    },
  };
}

function formatMessage(message: Message, cwd: string): string {
  const text = message.text.replace(`${FORBIDDEN_MARK} `, '');
  const loc = message.location;
  if (!loc) return text;
  const absolute = resolve(cwd, loc.file);
  const fromCwd = relative(cwd, absolute);
  const file = fromCwd && !fromCwd.startsWith('..') ? fromCwd : absolute;
  return `${file}:${loc.line}:${loc.column + 1} ${text}`;
}

function isBuildFailure(error: unknown): error is { errors: Message[] } {
  return typeof error === 'object' && error !== null && Array.isArray((error as { errors?: unknown }).errors);
}

export async function bundleScript(entryPath: string, options: { maxBytes?: number } = {}): Promise<Bundle> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  const cwd = process.cwd();
  let code: string;
  try {
    const result = await build({
      entryPoints: [resolve(entryPath)],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: BUNDLE_GLOBAL_NAME,
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      alias: { 'ferry/sdk': SDK_ENTRY, nango: SDK_ENTRY },
      // A script in a project without its own zod still finds the one Ferry depends on.
      nodePaths: [FERRY_NODE_MODULES],
      plugins: [refuseNodeBuiltins()],
      // Whitespace and syntax only: identifiers stay readable in a script's stack traces.
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      logLevel: 'silent',
    });
    code = result.outputFiles[0]?.text ?? '';
  } catch (error) {
    if (!isBuildFailure(error)) throw error;
    const forbidden = error.errors.some((m) => m.text.startsWith(FORBIDDEN_MARK));
    const details = error.errors.map((m) => formatMessage(m, cwd));
    throw forbidden
      ? new BundleError('FORBIDDEN_IMPORT', `${entryPath}: imports a Node built-in`, details)
      : new BundleError('BUNDLE_FAILED', `${entryPath}: bundling failed`, details);
  }
  const bytes = Buffer.byteLength(code);
  if (bytes > maxBytes) {
    throw new BundleError('TOO_LARGE', `${entryPath}: bundle is ${bytes} bytes, over the ${maxBytes}-byte limit`);
  }
  return { code, hash: createHash('sha256').update(code).digest('hex'), bytes };
}

export { discoverScripts, type DiscoveredScript, type ScriptKind } from './discover.ts';
