/**
 * ferry/client's verifyWebhook, the check apps run on Ferry's outgoing webhooks (Standard
 * Webhooks), against hostile deliveries: every missing, empty, malformed, replayed (timestamps far
 * in the past or future), re-signed or altered variant is a WebhookVerificationError (never
 * another error an app would not catch), and the genuine delivery, signed as the host signs it
 * (host/webhooks-out/signature.ts), is still accepted whatever its header names' case.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { verifyWebhook, WebhookVerificationError } from '../../client/index.ts';
import { standardWebhookHeaders } from '../../host/webhooks-out/signature.ts';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const BODY = JSON.stringify({ type: 'sync.finished', connection_id: 'c1', model: 'Contact' });
const NOW = 1_800_000_000;
const at = (seconds: number) => ({ now: seconds * 1000 });
const genuine = (body = BODY, timestamp = NOW) => standardWebhookHeaders(SECRET, 'msg_1', body, timestamp);

async function refusal(headers: Record<string, string | string[] | undefined> | Headers, body = BODY, secret = SECRET): Promise<unknown> {
  try {
    await verifyWebhook(secret, headers, body, at(NOW));
  } catch (error) {
    return error;
  }
  return null;
}

describe('verifyWebhook', () => {
  test('accepts the delivery the host signs, whatever the case of its header names', async () => {
    expect(await verifyWebhook(SECRET, genuine(), BODY, at(NOW))).toEqual(JSON.parse(BODY));
    const upper = Object.fromEntries(Object.entries(genuine()).map(([k, v]) => [k.toUpperCase(), v]));
    expect(await verifyWebhook(SECRET, upper, BODY, at(NOW))).toEqual(JSON.parse(BODY));
    expect(await verifyWebhook(SECRET, new Headers(genuine()), BODY, at(NOW + 299))).toEqual(JSON.parse(BODY));
    // A rotation: several signatures, one of them current.
    const rotated = { ...genuine(), 'webhook-signature': `v1,${randomBytes(32).toString('base64')} ${genuine()['webhook-signature']!}` };
    expect(await verifyWebhook(SECRET, rotated, BODY, at(NOW))).toEqual(JSON.parse(BODY));
  });

  test('refuses every hostile variant with a WebhookVerificationError', async () => {
    const g = genuine();
    const signature = g['webhook-signature']!;
    const mac = signature.slice(3);
    const hex = Buffer.from(mac, 'base64').toString('hex');
    const headers: Array<[string, Record<string, string | string[] | undefined> | Headers, string?, string?]> = [
      ['no headers', {}],
      ['no webhook-id', { ...g, 'webhook-id': undefined }],
      ['no webhook-timestamp', { ...g, 'webhook-timestamp': undefined }],
      ['no webhook-signature', { ...g, 'webhook-signature': undefined }],
      ['empty webhook-signature', { ...g, 'webhook-signature': '' }],
      ['empty webhook-id', { ...g, 'webhook-id': '' }],
      ['a signature of another id', { ...g, 'webhook-id': 'msg_2' }],
      ['"v1," alone', { ...g, 'webhook-signature': 'v1,' }],
      ['another version', { ...g, 'webhook-signature': `v2,${mac}` }],
      ['no version', { ...g, 'webhook-signature': mac }],
      ['the digest in hex', { ...g, 'webhook-signature': `v1,${hex}` }],
      ['one character short', { ...g, 'webhook-signature': `v1,${mac.slice(0, -2)}` }],
      ['one byte more', { ...g, 'webhook-signature': `v1,${Buffer.concat([Buffer.from(mac, 'base64'), Buffer.from([0])]).toString('base64')}` }],
      ['not base64', { ...g, 'webhook-signature': `v1,${'!'.repeat(mac.length)}` }],
      ['a huge signature list', { ...g, 'webhook-signature': Array.from({ length: 2000 }, () => `v1,${mac.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`).join(' ') }],
      ['a duplicated header whose first value is forged', { ...g, 'webhook-signature': [`v1,${randomBytes(32).toString('base64')}`, signature] }],
      ['a body altered after signing', g, BODY.replace('c1', 'c2')],
      ['a body re-serialised', g, JSON.stringify(JSON.parse(BODY), null, 2)],
      ['a huge body under a signature of another', g, `{"pad":"${'x'.repeat(10 * 1024 * 1024)}"}`],
      ['a genuinely signed body that is not JSON', genuine('not json'), 'not json'],
      ['another secret', g, BODY, `whsec_${randomBytes(24).toString('base64')}`],
      ['a secret that is not base64', g, BODY, 'whsec_!!!!'],
    ];
    // Replays and clock skew: the timestamp is signed, so each is re-signed as an attacker holding
    // an old (or future) genuine delivery would have it.
    for (const [what, seconds] of [['5 minutes and 1 s old', NOW - 301], ['5 minutes and 1 s ahead', NOW + 301], ['a day old', NOW - 86_400], ['at 0', 0]] as const) {
      headers.push([`a timestamp ${what}`, genuine(BODY, seconds)]);
    }
    for (const timestamp of ['', '-1', '1e9', ` ${NOW}`, `${NOW}.5`, '0x6B49D200', '99999999999999999999999', 'now']) {
      headers.push([`timestamp ${JSON.stringify(timestamp)}`, { ...g, 'webhook-timestamp': timestamp }]);
    }
    for (const [what, h, body, secret] of headers) {
      const error = await refusal(h, body, secret);
      expect(error, what).toBeInstanceOf(WebhookVerificationError);
    }
  });
});
