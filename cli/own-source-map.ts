/**
 * esbuild's source map of a bundle cut down to the script author's own files: the host only
 * needs to say where in *their* code an error was thrown, and a map of every bundled package
 * would make each deploy (one request for all scripts) several times larger. Positions in package
 * code keep a sourceless segment, so a throw inside a package maps to nothing rather than to the
 * nearest of the author's lines before it.
 */
import { decode, encode, type SourceMapSegment } from '@jridgewell/sourcemap-codec';
import { resolve, sep } from 'node:path';
import { MAX_SOURCE_MAP_BYTES } from '@ferry/runtime/source-map';
import { SHIMS_DIR } from './node-shims.ts';

/**
 * The author's own file: not inside node_modules, not a virtual module (`ferry-runtime:zod`), not
 * one of Ferry's Node shims (injected into every bundle; in a checkout of Ferry they sit outside
 * node_modules, and their absolute path would name the host's folders).
 */
function isOwnSource(source: string, root: string): boolean {
  if (/(^|\/)node_modules\//.test(source) || /^[\w-]+:/.test(source)) return false;
  return !resolve(root, source).startsWith(SHIMS_DIR + sep);
}

/**
 * The map as JSON text, or null when no mapped position is in the author's files or it is too
 * large. esbuild names sources relative to `root`; one outside it is named by its absolute path.
 */
export function ownSourceMap(esbuildMap: string, root: string): string | null {
  const map = JSON.parse(esbuildMap) as { sources: string[]; mappings: string };
  const kept = new Map<number, number>();
  const sources: string[] = [];
  map.sources.forEach((source, index) => {
    if (!isOwnSource(source, root)) return;
    kept.set(index, sources.length);
    sources.push(source.startsWith('../') ? resolve(root, source) : source);
  });
  if (sources.length === 0) return null;
  const lines = decode(map.mappings).map((segments) => {
    const out: SourceMapSegment[] = [];
    for (const segment of segments) {
      const source = segment.length > 1 ? kept.get(segment[1]!) : undefined;
      if (source !== undefined) out.push([segment[0], source, segment[2]!, segment[3]!]);
      // One sourceless segment ends the author's mapping where package code begins; more are redundant.
      else if (out.length > 0 && out.at(-1)!.length !== 1) out.push([segment[0]]);
    }
    return out;
  });
  const text = JSON.stringify({ version: 3, sources, names: [], mappings: encode(lines) });
  return Buffer.byteLength(text) > MAX_SOURCE_MAP_BYTES ? null : text;
}
