/**
 * The bundle's source map holds the author's files only, and a stack from the bundle maps back
 * through it: a frame in the author's code names its file:line:col, a frame in a bundled package
 * maps to nothing (not to the author's nearest line), and no stack, however hostile, makes the
 * mapping throw or grow without bound.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, type Bundle } from '../../cli/bundle.ts';
import { BUNDLE_URL } from '../../runtime/contract.ts';
import { locateRunError, mapStack, readSourceMap, sourceMapProblem } from '../../runtime/source-map.ts';

let project: string;
let bundle: Bundle;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'ferry-source-map-'));
  const files: Record<string, string> = {
    // An ES module: esbuild inlines it after the author's helper, on the same generated line.
    'node_modules/parsely/package.json': JSON.stringify({ name: 'parsely', type: 'module', main: 'index.js' }),
    'node_modules/parsely/index.js': `export function parse(text) {\n  if (!text) throw new Error('parsely: nothing to parse');\n  return text.length;\n}\n`,
    'scripts/crm/lib/check.ts': `export function check(value: number): number {\n  if (value < 0) {\n    throw new Error('negative');\n  }\n  return value;\n}\n`,
    'scripts/crm/syncs/items.ts': `import { check } from '../lib/check';\nimport { parse } from 'parsely';\n\nexport const viaPackage = (text: string) => parse(text);\nexport const viaOwn = (n: number) => check(n);\nexport default { type: 'sync' };\n`,
  };
  for (const [path, source] of Object.entries(files)) {
    await mkdir(join(project, path, '..'), { recursive: true });
    await writeFile(join(project, path), source);
  }
  bundle = await bundleScript(join(project, 'scripts/crm/syncs/items.ts'), { root: project });
}, 60_000);
afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

/** The stack of what `call` throws when the bundle runs under the name the runtime gives it. */
function stackOf(call: string): string {
  const sandbox: Record<string, unknown> = { __ferry_require: () => ({}) };
  try {
    runInNewContext(`${bundle.code}\n;__ferry_module.${call};`, sandbox, { filename: BUNDLE_URL, displayErrors: false });
  } catch (error) {
    return (error as Error).stack!;
  }
  throw new Error(`${call} did not throw`);
}

describe('the bundle source map', () => {
  it('holds only the author\'s files, relative to the root, without their contents', () => {
    const map = JSON.parse(bundle.sourceMap!);
    expect(map.sources.sort()).toEqual(['scripts/crm/lib/check.ts', 'scripts/crm/syncs/items.ts']);
    expect(map.sourcesContent).toBeUndefined();
    expect(sourceMapProblem(bundle.sourceMap!)).toBeNull();
    // The code is the same with or without a map (no sourceMappingURL comment).
    expect(bundle.code).not.toContain('sourceMappingURL');
  });

  it('maps a throw in the author\'s helper to its file:line:col, and the calling frame too', () => {
    const { stack, location } = mapStack(stackOf('viaOwn(-1)'), readSourceMap(bundle.sourceMap)!, 'negative');
    expect(location).toEqual({ file: 'scripts/crm/lib/check.ts', line: 3, column: 11 });
    expect(stack).toContain('scripts/crm/lib/check.ts:3:11');
    expect(stack).toMatch(/scripts\/crm\/syncs\/items\.ts:5:\d+/);
  });

  it('maps a throw inside a bundled package to nothing, and the first own frame below it is the location', () => {
    const raw = stackOf("viaPackage('')");
    const { stack, location } = mapStack(raw, readSourceMap(bundle.sourceMap)!, 'parsely: nothing to parse');
    // The package's frame stays a bundle position; the author's call of it is where it happened.
    expect(stack.split('\n')[1]).toContain(`${BUNDLE_URL}:`);
    expect(location).toMatchObject({ file: 'scripts/crm/syncs/items.ts', line: 4 });
  });
});

describe('mapping a hostile stack', () => {
  const map = () => readSourceMap(bundle.sourceMap)!;

  it('bounds what it reads and returns, and leaves positions outside the bundle as they are', () => {
    const frame = `    at x (${BUNDLE_URL}:999999999:999999999)\n`;
    const { stack, location } = mapStack(`Error: x\n${frame.repeat(100_000)}`, map(), 'x');
    expect(location).toBeNull();
    expect(stack.length).toBeLessThanOrEqual(16 * 1024);
    expect(stack).toContain(`${BUNDLE_URL}:999999999:999999999`);
  });

  it('does not take frames written into the message for the throw', () => {
    const real = stackOf('viaOwn(-1)');
    const forgedLine = real.split('\n').find((l) => l.includes(BUNDLE_URL))!.trim();
    const message = `negative\n    ${forgedLine}`;
    const { location } = mapStack(real.replace('negative', message), map(), message);
    // The forged line maps too (it names a real position), but the location is the first frame below the message.
    expect(location).toEqual({ file: 'scripts/crm/lib/check.ts', line: 3, column: 11 });
  });

  it('a map that does not parse, or no map, leaves the error as it was', () => {
    const error = { kind: 'script' as const, code: 'SCRIPT_ERROR', message: 'x', stack: stackOf('viaOwn(-1)') };
    expect(readSourceMap('{"version":3,"sources":[],"mappings":"!!!"}')).toBeNull();
    // Decodes, but names a source the map does not have.
    expect(sourceMapProblem('{"version":3,"sources":["a.ts"],"mappings":"ACAA"}')).toMatch(/invalid at generated line 1/);
    expect(readSourceMap('not json')).toBeNull();
    expect(readSourceMap(null)).toBeNull();
    expect(locateRunError(error, null)).toBe(error);
    expect(sourceMapProblem('{"version":2}')).toMatch(/version 3/);
    expect(sourceMapProblem('x'.repeat(1024 * 1024 + 1))).toMatch(/at most/);
  });
});
