/**
 * A deployed bundle's identity: its code and, when it has one, its source map. The map counts
 * because an edit that only moves lines (a blank line above a throw) leaves the minified code as
 * it was but moves every location an error reports; deploying it must replace the stored map.
 */
import { createHash } from 'node:crypto';

export function bundleHash(code: string, sourceMap?: string | null): string {
  const hash = createHash('sha256').update(code);
  if (sourceMap) hash.update('\0').update(sourceMap);
  return hash.digest('hex');
}
