/**
 * Replay protection on incoming webhooks, through a whole host over HTTP on real Postgres, as
 * each provider's own scheme supports it: a signed send time (Slack's `v0:{timestamp}:{body}`)
 * outside the tolerance is refused, and so is one altered or missing; a delivery id (GitHub's
 * X-GitHub-Delivery header, or an id in the payload) received before is answered 200 duplicate and
 * queued once, also when the copies arrive at the same moment; ids past the retention are
 * forgotten. A configuration whose parts contradict each other is a 400 naming the field.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DELIVERY_ID_RETENTION_DAYS } from '../../host/webhooks-in/replay.ts';
import { DELIVERIES_SYNC, postDelivery, queuedDeliveries } from './deliveries.ts';
import { deploySources, idForThisAttempt, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';

const SECRET = 'replay-secret-0123456789';

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, { 'slackish/syncs/seen.ts': DELIVERIES_SYNC, 'hubish/syncs/seen.ts': DELIVERIES_SYNC });
  for (const provider of ['slackish', 'hubish', 'stripeish']) {
    expect((await ferry.api.put(`/providers/${provider}`, { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  }
  expect((await ferry.api.put('/providers/slackish/webhook', {
    signature_header: 'X-Slack-Signature', signature_prefix: 'v0=', secret: SECRET, connection_id_path: 'team',
    timestamp_header: 'X-Slack-Request-Timestamp', tolerance_seconds: 300, signed_content: 'v0:{timestamp}:{body}',
  })).status).toBe(200);
  expect((await ferry.api.put('/providers/hubish/webhook', {
    signature_header: 'X-Hub-Signature-256', signature_prefix: 'sha256=', secret: SECRET, connection_id_path: 'installation', delivery_id_header: 'X-GitHub-Delivery',
  })).status).toBe(200);
  expect((await ferry.api.put('/providers/stripeish/webhook', {
    signature_header: 'X-Sig', secret: SECRET, connection_id_path: 'account', delivery_id_path: 'id',
  })).status).toBe(200);
}, 60_000);
afterAll(async () => { await ferry?.close(); });

const hmac = (text: string) => createHmac('sha256', SECRET).update(text).digest('hex');
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('a provider that signs its send time (Slack: v0:{timestamp}:{body})', () => {
  const slack = (body: string, ts: number | string, signedTs: number | string = ts) => postDelivery(ferry, 'slackish', body, {
    'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${hmac(`v0:${signedTs}:${body}`)}`,
  });

  test('a delivery signed now is accepted; one sent again past the tolerance, altered or without its time is refused', async () => {
    const body = JSON.stringify({ team: 'nobody', n: idForThisAttempt('slack') });
    const before = await queuedDeliveries(ferry, 'slackish');
    expect(await slack(body, nowSeconds())).toMatchObject({ status: 202, body: { accepted: true, duplicate: false } });
    // Within the tolerance either way (clocks differ).
    expect((await slack(body, nowSeconds() + 200)).status).toBe(202);

    const stale = await slack(body, nowSeconds() - 301);
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe('STALE_TIMESTAMP');
    expect(stale.body.error.message).toMatch(/x-slack-request-timestamp.*300-second tolerance/);
    expect(stale.body.error.issues[0].path).toEqual(['headers', 'x-slack-request-timestamp']);
    expect((await slack(body, nowSeconds() + 3600)).body.error.code).toBe('STALE_TIMESTAMP');
    // The time is signed: a captured request given a fresh time no longer matches its signature.
    const old = nowSeconds() - 3600;
    expect((await slack(body, nowSeconds(), old)).body.error.code).toBe('INVALID_SIGNATURE');
    // Signed, but not a unix time in seconds.
    for (const ts of ['soon', '1e9', '-5', `${nowSeconds()}.5`, '9'.repeat(20)]) {
      const answer = await slack(body, ts);
      expect(answer.status, ts).toBe(401);
      expect(answer.body.error.code, ts).toBe('INVALID_TIMESTAMP');
    }
    const missing = await postDelivery(ferry, 'slackish', body, { 'x-slack-signature': `v0=${hmac(`v0::${body}`)}` });
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toContain('x-slack-request-timestamp');
    expect(await queuedDeliveries(ferry, 'slackish')).toBe(before + 2);
  }, 60_000);
});

describe('a provider that sends a delivery id (GitHub: X-GitHub-Delivery)', () => {
  const hub = (body: string, delivery: string | null) => postDelivery(ferry, 'hubish', body, {
    'x-hub-signature-256': `sha256=${hmac(body)}`, ...(delivery !== null && { 'x-github-delivery': delivery }),
  });

  test('the same delivery received again is answered 200 duplicate and queued and run once', async () => {
    const n = idForThisAttempt('hub');
    const connection = idForThisAttempt('hub-connection');
    expect((await ferry.api.post('/connections', { connection_id: connection, provider: 'hubish' })).status).toBe(201);
    const body = JSON.stringify({ installation: connection, n });
    const delivery = `${n}-72d3162e-cc78-11e3-81ab-4c9367dc0958`;
    const before = await queuedDeliveries(ferry, 'hubish');
    const first = await hub(body, delivery);
    expect(first).toMatchObject({ status: 202, body: { accepted: true, duplicate: false } });
    expect(first.body.id).toEqual(expect.any(String));
    for (let i = 0; i < 3; i++) expect(await hub(body, delivery)).toEqual({ status: 200, body: { accepted: true, duplicate: true, id: null, event: null } });
    expect(await queuedDeliveries(ferry, 'hubish')).toBe(before + 1);
    // Another id is another delivery, whatever its body.
    expect((await hub(body, `${delivery}-redelivered`)).status).toBe(202);
    expect(await queuedDeliveries(ferry, 'hubish')).toBe(before + 2);

    const runs = await waitFor('both deliveries run', async () => {
      const rows = await ferry.db.sql`select r.job_id from runs r join connections c on c.id = r.connection_id where c.connection_id = ${connection} and r.kind = 'webhook' and r.status = 'succeeded'`;
      return rows.length >= 2 ? rows : undefined;
    }, 60_000);
    expect(runs).toHaveLength(2);
  }, 90_000);

  test('copies of one delivery arriving at once are queued once', async () => {
    const body = JSON.stringify({ installation: 'nobody', n: idForThisAttempt('hub-burst') });
    const delivery = idForThisAttempt('burst-delivery');
    const before = await queuedDeliveries(ferry, 'hubish');
    const answers = await Promise.all(Array.from({ length: 8 }, () => hub(body, delivery)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
    expect(await queuedDeliveries(ferry, 'hubish')).toBe(before + 1);
  }, 60_000);

  test('a delivery without its id, an empty one or one too long is a 400 naming the header, and nothing is queued', async () => {
    const body = JSON.stringify({ installation: 'nobody', n: 1 });
    const before = await queuedDeliveries(ferry, 'hubish');
    for (const delivery of [null, '', '   ', 'd'.repeat(256)]) {
      const answer = await hub(body, delivery);
      expect(answer.status, String(delivery)).toBe(400);
      expect(answer.body.error.code).toBe('INVALID_DELIVERY_ID');
      expect(answer.body.error.issues[0].path).toEqual(['headers', 'x-github-delivery']);
    }
    expect(await queuedDeliveries(ferry, 'hubish')).toBe(before);
  });

  test(`ids older than ${DELIVERY_ID_RETENTION_DAYS} days are forgotten, and deleted by the deliveries that follow`, async () => {
    const environmentId = (await ferry.db.sql<{ id: string }[]>`select id from environments where name = 'dev'`)[0]!.id;
    const old = [1, 2, 3].map((i) => idForThisAttempt(`expired-${i}`));
    for (const id of old) {
      await ferry.db.sql`
        insert into webhook_deliveries_seen (environment_id, provider, delivery_id, received_at)
        values (${environmentId}, 'hubish', ${id}, now() - ${DELIVERY_ID_RETENTION_DAYS + 1} * interval '1 day')`;
    }
    const body = JSON.stringify({ installation: 'nobody', n: 2 });
    expect((await hub(body, old[0]!)).status).toBe(202);
    const left = await ferry.db.sql`select delivery_id from webhook_deliveries_seen where delivery_id in ${ferry.db.sql(old)}`;
    expect(left.map((r) => r.delivery_id)).toEqual([old[0]]);
    expect((await hub(body, old[0]!)).status).toBe(200);
  });
});

test('a delivery id read from the payload (Stripe: the event id) works the same', async () => {
  const id = idForThisAttempt('evt_1NG8Du2eZvKYlo2CUI79vXWy');
  const body = JSON.stringify({ id, account: 'nobody' });
  const sign = { 'x-sig': hmac(body) };
  expect((await postDelivery(ferry, 'stripeish', body, sign)).status).toBe(202);
  expect((await postDelivery(ferry, 'stripeish', body, sign)).body).toMatchObject({ duplicate: true });
  const unnamed = JSON.stringify({ account: 'nobody' });
  const refused = await postDelivery(ferry, 'stripeish', unnamed, { 'x-sig': hmac(unnamed) });
  expect(refused.status).toBe(400);
  expect(refused.body.error.issues[0].path).toEqual(['body', 'id']);
});

test('a configuration whose parts contradict each other is a 400 naming the field', async () => {
  const base = { signature_header: 'x-sig', secret: SECRET, connection_id_path: 'account' };
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ signed_content: 'v0:{timestamp}:{body}' }, 'body.signed_content'],
    [{ signed_content: '{delivery_id}.{body}' }, 'body.signed_content'],
    [{ signed_content: '{id}.{body}', timestamp_header: 'x-ts' }, 'body.signed_content'],
    [{ signed_content: 'no body' }, 'body.signed_content'],
    [{ signed_content: '{body}{body}' }, 'body.signed_content'],
    [{ delivery_id_header: 'x-id', delivery_id_path: 'id' }, 'body.delivery_id_header'],
    [{ event_header: 'x-event', event_path: 'type' }, 'body.event_header'],
    [{ timestamp_header: 'bad header' }, 'body.timestamp_header'],
    [{ tolerance_seconds: 0 }, 'body.tolerance_seconds'],
    [{ tolerance_seconds: 1e400 }, 'body.tolerance_seconds'],
  ];
  for (const [extra, field] of cases) {
    const answer = await ferry.api.put('/providers/stripeish/webhook', { ...base, ...extra });
    expect(answer.status, JSON.stringify(extra)).toBe(400);
    expect(answer.body.error.issues.map((i: any) => i.path.join('.')), JSON.stringify(extra)).toContain(field);
  }
  // Refused ones change nothing: the provider's configuration is the one set before.
  expect((await ferry.api.get('/providers/stripeish/webhook')).body).toMatchObject({ delivery_id_path: 'id' });
});
