/**
 * Signing of outgoing webhooks in the Standard Webhooks format (standardwebhooks.com), so apps
 * can verify with any of its libraries or with ferry/client's verifyWebhook:
 *   webhook-id: msg_<delivery id> (the same on every retry: dedupe on it)
 *   webhook-timestamp: unix seconds of this attempt
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">
 * The key is the secret's part after `whsec_`, base64-decoded. The timestamp is signed so a
 * captured delivery cannot be replayed later.
 *
 * `X-Ferry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (keyed with the
 * whole secret string) is still sent for apps written against earlier versions.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-ferry-signature';

/** The HMAC key of a `whsec_<base64>` secret (either base64 alphabet). */
export function webhookKey(secret: string): Buffer {
  return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
}

/** Standard Webhooks' v1 signature (base64) of `body` sent as `messageId` at `timestamp`; incoming webhooks verify with it too. */
export function standardWebhookMac(secret: string, messageId: string, timestamp: string | number, body: string | Uint8Array): string {
  return createHmac('sha256', webhookKey(secret)).update(`${messageId}.${timestamp}.`).update(body).digest('base64');
}

/** The v1 (hex) of a `t=…,v1=…` header, Stripe's format and the legacy X-Ferry-Signature's: keyed with the whole secret. */
export function timestampedMac(secret: string, timestamp: string | number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export function standardWebhookHeaders(secret: string, messageId: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { 'webhook-id': messageId, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${standardWebhookMac(secret, messageId, timestamp, body)}` };
}

/** The legacy X-Ferry-Signature value. */
export function signPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${timestampedMac(secret, timestamp, body)}`;
}

/** For tests of the legacy header: true when `header` signs `body` with `secret` within `toleranceSeconds`. */
export function verifySignature(secret: string, body: string, header: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== 'string') return false;
  if (Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, body, t).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
