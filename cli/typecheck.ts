/**
 * Type-checks scripts the way they run: strict, ES2022, no Node globals (`process` in a script
 * is an error, as it would be in the isolate) beyond those the bundler gives scripts (`Buffer`,
 * `crypto`, `url`: node-shims.ts), with `ferry/sdk`, `nango` (and its types from `@nangohq/runner-sdk`), `ferry/testing` and `zod` resolved
 * to the ones that ship with Ferry. Each error names
 * file:line:col, and the common ones say how to fix them.
 */
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { PROVIDED, SHIM_GLOBALS } from './node-shims.ts';
import { SDK_ENTRY, TESTING_ENTRY, typesOf, ZOD_DIR } from './resolve-ferry.ts';

/** The module mappings scripts are checked with: the SDK, testing helpers and zod this CLI ships with. */
export function scriptPaths(): Record<string, string[]> {
  const sdk = typesOf(SDK_ENTRY);
  // The built-ins the bundler gives scripts (node-shims.ts), with or without `node:`.
  const builtins = Object.entries(PROVIDED).flatMap(([name, entry]) => [[name, [typesOf(entry)]], [`node:${name}`, [typesOf(entry)]]] as const);
  // Nango scripts also import the SDK's types from Nango's runner package (`import type { ProxyConfiguration } from '@nangohq/runner-sdk'`).
  return { 'ferry/sdk': [sdk], nango: [sdk], '@nangohq/runner-sdk': [sdk], ...(TESTING_ENTRY && { 'ferry/testing': [typesOf(TESTING_ENTRY)] }), zod: [ZOD_DIR], ...Object.fromEntries(builtins) };
}

/** The isolate's globals beyond ECMAScript (URL, TextEncoder, timers, crypto…), declared for scripts. */
export const SCRIPT_GLOBALS = join(dirname(SDK_ENTRY), 'globals.d.ts');

export interface TypeDiagnostic {
  file: string | null;
  line: number | null;
  column: number | null;
  code: number;
  message: string;
  hint: string | null;
}

const NODE_GLOBALS = /Cannot find name '(process|require|__dirname|__filename|setImmediate|clearImmediate|module|global|fetch|XMLHttpRequest|WebAssembly)'/;

/** What to use instead of each global the isolate does not have. */
const INSTEAD: Record<string, string> = {
  fetch: 'HTTP goes through the connection: use nango.get/post/put/patch/delete or nango.proxy (credentials are added by the host)',
  XMLHttpRequest: 'HTTP goes through the connection: use nango.get/post/put/patch/delete or nango.proxy (credentials are added by the host)',
  setImmediate: 'use setTimeout(fn, 0) or queueMicrotask(fn)',
  clearImmediate: 'use setTimeout/clearTimeout',
  WebAssembly: 'WebAssembly cannot be bounded by the run\'s memory limit, so the isolate has none',
};

const NODE_BUILTINS = new Set(builtinModules);

const CRYPTO_HINT = "Ferry's isolate has crypto's createHash, createHmac (md5, sha1, sha224, sha256, sha384, sha512), randomBytes, randomUUID, getRandomValues and timingSafeEqual; sign or encrypt with a pure-JavaScript package, or on the provider's side";

function hintFor(code: number, message: string): string | null {
  const missing = NODE_GLOBALS.exec(message)?.[1];
  if (missing && INSTEAD[missing]) return INSTEAD[missing];
  if (missing) return 'scripts run in an isolate without Node: use nango.get/post for HTTP, nango.log for logs, connection metadata for settings';
  if (/Module '"(node:)?crypto"' has no exported member|on type 'typeof import\(".*node-shims\/crypto/.test(message)) return CRYPTO_HINT;
  const module = /Cannot find module '([^']+)'/.exec(message)?.[1];
  if (module && NODE_BUILTINS.has(module.replace(/^node:/, ''))) {
    return `${module} is a Node built-in, and scripts run in an isolate without Node: of Node's modules it has Buffer (buffer), crypto's hashes and url; use nango.get/post for HTTP and connection metadata for settings`;
  }
  if (code === 2307 || code === 2792) return 'a script may import ferry/sdk (or nango), zod and files of its own; other packages must be installed in this project and bundle without Node built-ins';
  if (code === 2345 && /batchSave|batchUpdate|'Models/.test(message)) return 'a record passed to batchSave must match its model\'s zod schema (see models: { ... } in createSync)';
  if (code === 2322 && /Promise</.test(message)) return 'exec must return what the action\'s output schema describes';
  // A page loop whose request uses the cursor the loop then sets from the response: the loop's types go in a circle.
  if (code === 7022 || code === 7023) return 'TypeScript cannot infer a value from a call that depends on what the loop sets from it (a page loop\'s response and its cursor): annotate it (const { data }: { data: Page } = await nango.get<Page>(…)), or build the request\'s params in a variable of its own type first';
  return null;
}

export type TypeCheckResult =
  | {
      ran: true;
      diagnostics: TypeDiagnostic[];
      /**
       * The diagnostics that concern one of the checked files: those in the files its imports
       * reach (type-only imports too, as TypeScript resolves them), and those of no file.
       */
      diagnosticsOf(file: string): TypeDiagnostic[];
    }
  | { ran: false; reason: string };

export async function typeCheckScripts(files: string[], options: { cwd?: string } = {}): Promise<TypeCheckResult> {
  let ts: typeof import('typescript');
  try {
    ts = (await import('typescript')).default;
  } catch {
    return { ran: false, reason: 'TypeScript is not installed (npm install -D typescript to type-check)' };
  }
  const cwd = options.cwd ?? process.cwd();
  const compilerOptions: import('typescript').CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: false,
    isolatedModules: true,
    skipLibCheck: true,
    types: [],
    paths: scriptPaths(),
  };
  const program = ts.createProgram([...files, SCRIPT_GLOBALS, SHIM_GLOBALS], compilerOptions);
  const located: Array<{ fileName: string | null; diagnostic: TypeDiagnostic }> = [];
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d): TypeDiagnostic => {
    let message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    // TypeScript suggests installing @types/node; in a script that is the wrong fix.
    if (NODE_GLOBALS.test(message)) message = message.replace(/\. Do you need to install type definitions.*$/s, '.');
    let file: string | null = null;
    let line: number | null = null;
    let column: number | null = null;
    if (d.file && d.start !== undefined) {
      const pos = d.file.getLineAndCharacterOfPosition(d.start);
      const rel = relative(cwd, d.file.fileName);
      file = rel && !rel.startsWith('..') ? rel : d.file.fileName;
      line = pos.line + 1;
      column = pos.character + 1;
    }
    const diagnostic = { file, line, column, code: d.code, message, hint: hintFor(d.code, message) };
    located.push({ fileName: d.file?.fileName ?? null, diagnostic });
    return diagnostic;
  });

  /** The program's files `file` imports, directly or through others (itself included). */
  const reach = (file: string): Set<string> => {
    const seen = new Set<string>();
    const queue = [program.getSourceFile(file)?.fileName ?? file];
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      const source = program.getSourceFile(next);
      if (!source || source.isDeclarationFile) continue;
      for (const imported of ts.preProcessFile(source.text, true, true).importedFiles) {
        const resolved = ts.resolveModuleName(imported.fileName, next, compilerOptions, ts.sys).resolvedModule?.resolvedFileName;
        if (resolved && program.getSourceFile(resolved)) queue.push(program.getSourceFile(resolved)!.fileName);
      }
    }
    return seen;
  };
  const reached = new Map<string, Set<string>>();
  const reachOf = (file: string) => reached.get(file) ?? reached.set(file, reach(file)).get(file)!;
  const diagnosticsOf = (file: string): TypeDiagnostic[] => {
    if (located.length === 0) return [];
    const own = reachOf(file);
    // One in a file no checked script reaches (a declaration all share) concerns every script.
    const anyone = (fileName: string) => files.some((f) => reachOf(f).has(fileName));
    return located.filter((l) => l.fileName === null || own.has(l.fileName) || !anyone(l.fileName)).map((l) => l.diagnostic);
  };
  return { ran: true, diagnostics, diagnosticsOf };
}

export function formatDiagnostic(d: TypeDiagnostic): string {
  const where = d.file ? `${d.file}:${d.line}:${d.column} ` : '';
  return `${where}TS${d.code}: ${d.message}${d.hint ? `\n    fix: ${d.hint}` : ''}`;
}
