/** Signature checks and payload lookups for incoming provider webhooks. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderWebhook } from './provider-webhooks.ts';

/** The digest a provider would send for `body` under this configuration (prefix included). */
export function signWebhook(config: Pick<ProviderWebhook, 'algorithm' | 'encoding' | 'signature_prefix' | 'secret'>, body: Uint8Array | string): string {
  return config.signature_prefix + createHmac(config.algorithm, config.secret).update(body).digest(config.encoding);
}

/** True when `header` carries the HMAC of the exact bytes received; compared in constant time. */
export function verifySignature(config: ProviderWebhook, body: Uint8Array, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhook(config, body));
  const given = Buffer.from(header.trim());
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Reads a dot path ("account.id") from parsed JSON; undefined when any step is missing. */
export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A scalar at the path, as text (ids and event types); null for anything else. */
export function readScalar(value: unknown, path: string): string | null {
  const found = readPath(value, path);
  return typeof found === 'string' || typeof found === 'number' ? String(found) : null;
}
