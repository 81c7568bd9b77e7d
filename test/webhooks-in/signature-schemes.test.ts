/**
 * Signature schemes with a header format of their own, through a whole host over HTTP on real
 * Postgres: Stripe's `Stripe-Signature: t=…,v1=…` (the signed t held to the tolerance, several v1
 * during a rotation) and Standard Webhooks / Svix (`v1,<base64>` over `<id>.<timestamp>.<body>`,
 * keyed with the base64 after `whsec_`, checked against Svix's published example). A genuine
 * delivery reaches the subscribed sync; a stale, altered or malformed one is a 401 naming why and
 * queues nothing; a configuration that contradicts its scheme is a 400 naming the field.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DELIVERIES_SYNC, postDelivery, queuedDeliveries } from './deliveries.ts';
import { deploySources, idForThisAttempt, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';

const STRIPE_SECRET = 'whsec_stripe_test_0123456789abcdef';
// Svix's documented example (docs.svix.com, "Verifying payloads manually").
const SVIX = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330',
  body: '{"test": 2432232314}', signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, { 'stripeco/syncs/seen.ts': DELIVERIES_SYNC, 'svixco/syncs/seen.ts': DELIVERIES_SYNC });
  for (const provider of ['stripeco', 'svixco']) {
    expect((await ferry.api.put(`/providers/${provider}`, { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
    expect((await ferry.api.post('/connections', { connection_id: `acct-${provider}`, provider })).status).toBe(201);
  }
}, 60_000);
afterAll(async () => { await ferry?.close(); });

const nowSeconds = () => Math.floor(Date.now() / 1000);

async function seen(provider: string, n: string): Promise<void> {
  await waitFor(`the ${provider} delivery ${n} to reach its sync`, async () => {
    const { records } = await readAll(ferry.api, `acct-${provider}`, 'Seen');
    return records.some((r: { id: string }) => r.id === n) ? true : undefined;
  }, 60_000);
}

const refusal = (answer: { status: number; body: any }) => ({ status: answer.status, code: answer.body.error?.code, message: answer.body.error?.message });

describe('stripe: Stripe-Signature t=…,v1=…', () => {
  const stripeHmac = (t: number | string, body: string, secret = STRIPE_SECRET) => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  const event = (n: string) => JSON.stringify({ id: `evt_${n}`, object: 'event', type: 'customer.updated', account: 'acct-stripeco', n });

  beforeAll(async () => {
    const put = await ferry.api.put('/providers/stripeco/webhook', {
      scheme: 'stripe', signature_header: 'Stripe-Signature', secret: STRIPE_SECRET, connection_id_path: 'account', event_path: 'type', delivery_id_path: 'id',
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ scheme: 'stripe', signature_header: 'stripe-signature', algorithm: 'sha256', encoding: 'hex', tolerance_seconds: 300 });
    expect(put.body.secret).toBeUndefined();
  });

  test('a genuine delivery is accepted and runs the sync; one of several v1 (a rotation) is enough; the event id dedupes', async () => {
    const n = idForThisAttempt('stripe');
    const body = event(n);
    const t = nowSeconds();
    const accepted = await postDelivery(ferry, 'stripeco', body, { 'stripe-signature': `t=${t},v1=${stripeHmac(t, body)},v0=${'0'.repeat(64)}` });
    expect(accepted).toMatchObject({ status: 202, body: { accepted: true, duplicate: false, event: 'customer.updated' } });
    await seen('stripeco', n);
    // The same event again (Stripe's retry): acknowledged, not queued twice.
    expect(await postDelivery(ferry, 'stripeco', body, { 'stripe-signature': `t=${t},v1=${stripeHmac(t, body)}` })).toMatchObject({ status: 200, body: { duplicate: true } });

    const rotated = event(`${n}-rotated`);
    const header = `t=${t}, v1=${stripeHmac(t, rotated, 'whsec_the_old_secret_0123456')}, v1=${stripeHmac(t, rotated).toUpperCase()}`;
    expect((await postDelivery(ferry, 'stripeco', rotated, { 'stripe-signature': header })).status).toBe(202);
    await seen('stripeco', `${n}-rotated`);
  });

  test('a stale, altered or malformed signature is a 401 naming why, and queues nothing', async () => {
    const body = event(idForThisAttempt('stripe-bad'));
    const t = nowSeconds();
    const before = await queuedDeliveries(ferry, 'stripeco');

    const stale = await postDelivery(ferry, 'stripeco', body, { 'stripe-signature': `t=${t - 301},v1=${stripeHmac(t - 301, body)}` });
    expect(refusal(stale)).toMatchObject({ status: 401, code: 'STALE_TIMESTAMP', message: expect.stringMatching(/the t= of the stripe-signature header says .* beyond the 300-second tolerance/) });
    expect(stale.body.error.issues[0].path).toEqual(['headers', 'stripe-signature']);

    const cases: Array<[string, string, string]> = [
      ['t changed after signing', `t=${t + 5},v1=${stripeHmac(t, body)}`, 'matches the payload'],
      ['the body changed after signing', `t=${t},v1=${stripeHmac(t, body.replace('customer', 'invoice'))}`, 'matches the payload'],
      ['another secret', `t=${t},v1=${stripeHmac(t, body, 'whsec_someone_else_012345')}`, 'matches the payload'],
      ['only v0', `t=${t},v0=${stripeHmac(t, body)}`, 'no v1= signature'],
      ['no t', `v1=${stripeHmac(t, body)}`, 'no single t='],
      ['two t', `t=${t},t=${t - 1},v1=${stripeHmac(t, body)}`, 'no single t='],
      ['a bare digest', stripeHmac(t, body), 'no single t='],
      ['empty', ' ', 'is missing'],
    ];
    for (const [what, header, why] of cases) {
      const answer = await postDelivery(ferry, 'stripeco', body, { 'stripe-signature': header });
      expect(refusal(answer), what).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE', message: expect.stringContaining(why) });
    }
    const missing = await postDelivery(ferry, 'stripeco', body, {});
    expect(refusal(missing)).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE', message: 'the stripe-signature header is missing' });
    // A t that is not unix seconds, signed as sent: the signature holds, the time does not.
    const odd = await postDelivery(ferry, 'stripeco', body, { 'stripe-signature': `t=soon,v1=${stripeHmac('soon', body)}` });
    expect(refusal(odd)).toMatchObject({ status: 401, code: 'INVALID_TIMESTAMP' });
    expect(await queuedDeliveries(ferry, 'stripeco')).toBe(before);
  });

  test('settings the stripe scheme fixes are refused when they contradict it', async () => {
    const base = { scheme: 'stripe', signature_header: 'Stripe-Signature', secret: STRIPE_SECRET, connection_id_path: 'account' };
    for (const [field, value] of [['timestamp_header', 'X-Time'], ['encoding', 'base64'], ['algorithm', 'sha512'], ['signature_prefix', 'v1='], ['signed_content', '{body}.x']] as const) {
      const put = await ferry.api.put('/providers/stripeco2/webhook', { ...base, [field]: value });
      expect(put.status, field).toBe(400);
      expect(put.body.error.issues.map((i: { path: string[] }) => i.path.join('.'))).toContain(`body.${field}`);
    }
    expect((await ferry.api.put('/providers/stripeco2/webhook', { ...base, scheme: 'paypal' })).status).toBe(400);
  });
});

describe('standard-webhooks: webhook-signature v1,<base64> over <id>.<timestamp>.<body>', () => {
  const sign = (id: string, ts: number | string, body: string, secret = SVIX.secret) =>
    `v1,${createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64')).update(`${id}.${ts}.${body}`).digest('base64')}`;
  const headers = (id: string, ts: number | string, signature: string) => ({ 'svix-id': id, 'svix-timestamp': String(ts), 'svix-signature': signature });

  beforeAll(async () => {
    const put = await ferry.api.put('/providers/svixco/webhook', {
      scheme: 'standard-webhooks', signature_header: 'svix-signature', timestamp_header: 'svix-timestamp', delivery_id_header: 'svix-id',
      secret: SVIX.secret, connection_id_path: 'account',
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ scheme: 'standard-webhooks', algorithm: 'sha256', encoding: 'base64' });
  });

  test("Svix's published example verifies (and is refused only as stale: it was signed in 2021)", async () => {
    const genuine = await postDelivery(ferry, 'svixco', SVIX.body, headers(SVIX.id, SVIX.timestamp, SVIX.signature));
    expect(refusal(genuine)).toMatchObject({ status: 401, code: 'STALE_TIMESTAMP', message: expect.stringContaining('the svix-timestamp header says the delivery was sent at 2021-02-25') });
    const altered = await postDelivery(ferry, 'svixco', SVIX.body.replace('2432232314', '2432232315'), headers(SVIX.id, SVIX.timestamp, SVIX.signature));
    expect(refusal(altered)).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
  });

  test('a genuine delivery, among several signatures, runs the sync once; a missing id or another key is a 401', async () => {
    const n = idForThisAttempt('svix');
    const body = JSON.stringify({ account: 'acct-svixco', n });
    const id = `msg_${n}`;
    const ts = nowSeconds();
    const both = `${sign(id, ts, body, 'whsec_b2xkIGtleSBvbGQga2V5IG9sZA==')} v2,ignored ${sign(id, ts, body)}`;
    expect(await postDelivery(ferry, 'svixco', body, headers(id, ts, both))).toMatchObject({ status: 202, body: { duplicate: false } });
    await seen('svixco', n);
    expect(await postDelivery(ferry, 'svixco', body, headers(id, ts, sign(id, ts, body)))).toMatchObject({ status: 200, body: { duplicate: true } });

    const before = await queuedDeliveries(ferry, 'svixco');
    const { 'svix-id': _id, ...withoutId } = headers(id, ts, sign(id, ts, body));
    expect(refusal(await postDelivery(ferry, 'svixco', body, withoutId))).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE', message: expect.stringContaining('svix-id header, part of what the provider signs, is missing') });
    expect(refusal(await postDelivery(ferry, 'svixco', body, headers(`${id}-2`, ts, sign(id, ts, body))))).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
    const otherKey = sign(`${id}-3`, ts, body, 'whsec_b3RoZXIga2V5');
    expect(refusal(await postDelivery(ferry, 'svixco', body, headers(`${id}-3`, ts, otherKey)))).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
    const notVersioned = sign(`${id}-4`, ts, body).replace('v1,', 'v1=');
    expect(refusal(await postDelivery(ferry, 'svixco', body, headers(`${id}-4`, ts, notVersioned)))).toMatchObject({ status: 401, message: expect.stringContaining('no v1, signature') });
    expect(await queuedDeliveries(ferry, 'svixco')).toBe(before);
  });

  test('a configuration missing the headers the scheme signs, or with a secret that is not base64, is a 400 naming the field', async () => {
    const base = { scheme: 'standard-webhooks', signature_header: 'webhook-signature', timestamp_header: 'webhook-timestamp', delivery_id_header: 'webhook-id', secret: SVIX.secret, connection_id_path: 'account' };
    const { timestamp_header: _t, ...noTime } = base;
    const { delivery_id_header: _d, ...noId } = base;
    for (const [body, field] of [[noTime, 'timestamp_header'], [noId, 'delivery_id_header'], [{ ...base, secret: 'whsec_not base64!!' }, 'secret']] as const) {
      const put = await ferry.api.put('/providers/svixco2/webhook', body);
      expect(put.status, field).toBe(400);
      expect(put.body.error.issues.map((i: { path: string[] }) => i.path.join('.'))).toContain(`body.${field}`);
    }
  });
});
