/** Signature checks and payload lookups for incoming provider webhooks. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderWebhook } from './provider-webhooks.ts';

/** The digest a provider would send for `body` under this configuration (prefix included). */
export function signWebhook(config: Pick<ProviderWebhook, 'algorithm' | 'encoding' | 'signature_prefix' | 'secret'>, body: Uint8Array | string): string {
  return config.signature_prefix + createHmac(config.algorithm, config.secret).update(body).digest(config.encoding);
}

/**
 * True when `header` carries the HMAC of the exact bytes received: the configured prefix, then the
 * digest in the configured encoding (hex in either case, as hex means the same bytes), compared
 * with the expected digest in constant time. Anything else is false: no header, an empty one, two
 * joined into one ("a, b" as Node joins a repeated header), another encoding or length.
 */
export function verifySignature(config: ProviderWebhook, body: Uint8Array, header: string | undefined): boolean {
  const value = header?.trim();
  if (!value || !value.startsWith(config.signature_prefix)) return false;
  const digest = value.slice(config.signature_prefix.length);
  const expected = Buffer.from(createHmac(config.algorithm, config.secret).update(body).digest(config.encoding));
  const given = Buffer.from(config.encoding === 'hex' ? digest.toLowerCase() : digest);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Reads a dot path ("account.id") from parsed JSON; undefined when any step is missing. Own
 * properties only: "constructor" or "__proto__" in a configured path must read what the payload
 * sent (a key of its own, or nothing), never Object.prototype or a function inherited from it.
 */
export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A scalar at the path, as text (ids and event types); null for anything else. */
export function readScalar(value: unknown, path: string): string | null {
  const found = readPath(value, path);
  return typeof found === 'string' || typeof found === 'number' ? String(found) : null;
}
