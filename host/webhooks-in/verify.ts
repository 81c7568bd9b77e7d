/** Signature checks for incoming provider webhooks. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SIGNED_BODY, type ProviderWebhook } from './provider-webhooks.ts';

export { readPath, readScalar } from '../json-path.ts';

/** The digest a provider would send for `body` under this configuration (prefix included). */
export function signWebhook(config: Pick<ProviderWebhook, 'algorithm' | 'encoding' | 'signature_prefix' | 'secret'>, body: Uint8Array | string): string {
  return config.signature_prefix + createHmac(config.algorithm, config.secret).update(body).digest(config.encoding);
}

/** The header values `signed_content` may name, as the request carried them. */
export interface SignedParts {
  timestamp: string | undefined;
  deliveryId: string | undefined;
}

/**
 * The bytes the provider signed: the raw body, or `signed_content` with {timestamp} and
 * {delivery_id} filled from their headers around the raw body (`v0:{timestamp}:{body}`). The
 * placeholder a header is missing for, when one is.
 */
export function signedBytes(config: Pick<ProviderWebhook, 'signed_content'>, body: Uint8Array, parts: SignedParts): Uint8Array | { missing: 'timestamp' | 'delivery_id' } {
  if (config.signed_content === SIGNED_BODY) return body;
  let missing: 'timestamp' | 'delivery_id' | null = null;
  const fill = (text: string) => text.replace(/\{(timestamp|delivery_id)\}/g, (_, name: 'timestamp' | 'delivery_id') => {
    const value = name === 'timestamp' ? parts.timestamp : parts.deliveryId;
    if (value === undefined) missing ??= name;
    return value ?? '';
  });
  const [before = '', after = ''] = config.signed_content.split(SIGNED_BODY);
  const bytes = Buffer.concat([Buffer.from(fill(before)), body, Buffer.from(fill(after))]);
  return missing === null ? bytes : { missing };
}

/**
 * True when `header` carries the HMAC of the exact bytes signed: the configured prefix, then the
 * digest in the configured encoding (hex in either case, as hex means the same bytes), compared
 * with the expected digest in constant time. Anything else is false: no header, an empty one, two
 * joined into one ("a, b" as Node joins a repeated header), another encoding or length.
 */
export function verifySignature(config: ProviderWebhook, signed: Uint8Array, header: string | undefined): boolean {
  const value = header?.trim();
  if (!value || !value.startsWith(config.signature_prefix)) return false;
  const digest = value.slice(config.signature_prefix.length);
  const expected = Buffer.from(createHmac(config.algorithm, config.secret).update(signed).digest(config.encoding));
  const given = Buffer.from(config.encoding === 'hex' ? digest.toLowerCase() : digest);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
