/**
 * A deployed bundle's identity: its code and, when it has one, its source map's positions. The
 * map counts because an edit that only moves lines (a blank line above a throw) leaves the
 * minified code as it was but moves every location an error reports; deploying it must replace
 * the stored map. Its `sources` (file paths) do not: they depend on where the checkout is and
 * where it was deployed from, so the same scripts from another folder are the same bundle
 * ("unchanged"), and the stored map keeps the paths of the deploy that stored it. A map that is
 * not JSON with string `mappings` counts whole. Migration 0340 rehashed stored scripts this way.
 */
import { createHash } from 'node:crypto';

function mapPositions(sourceMap: string): string | null {
  try {
    const map = JSON.parse(sourceMap) as unknown;
    const mappings = typeof map === 'object' && map !== null && !Array.isArray(map) ? (map as { mappings?: unknown }).mappings : undefined;
    return typeof mappings === 'string' ? mappings : null;
  } catch {
    return null;
  }
}

export function bundleHash(code: string, sourceMap?: string | null): string {
  const hash = createHash('sha256').update(code);
  if (sourceMap) hash.update('\0').update(mapPositions(sourceMap) ?? sourceMap);
  return hash.digest('hex');
}
