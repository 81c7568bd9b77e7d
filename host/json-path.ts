/**
 * Reads a dot path ("account.id") from parsed JSON a provider sent (a webhook payload, a token
 * response); undefined when any step is missing. Own properties only: "constructor" or
 * "__proto__" in a configured path must read what the JSON itself holds (a key of its own, or
 * nothing), never Object.prototype or a function inherited from it.
 */
export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A scalar at the path, as text (ids, event types, config values); null for anything else. */
export function readScalar(value: unknown, path: string): string | null {
  const found = readPath(value, path);
  return typeof found === 'string' || typeof found === 'number' ? String(found) : null;
}
