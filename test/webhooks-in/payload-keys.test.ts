/**
 * A signed webhook payload is the provider's data, read by own keys only. A "__proto__" key is
 * kept as a key (it reaches the script and its records as sent; no object of the host or the
 * isolate inherits from it), and a configured dot path reads only what the payload itself holds:
 * "account.constructor.name" over `{"account":{}}` used to read Object.prototype's constructor
 * and route the delivery to a connection named "Object". A whole host on real Postgres, real
 * worker processes; what a delivery ran is read from its runs (they carry its job id) once its
 * pg-boss job has completed.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, idForThisAttempt, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';

const SECRET = 'payload-keys-secret';

// Saves every delivery whole, so the test sees the payload as the script did.
const DELIVERIES = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'every webhook, kept whole',
  frequency: 'every day',
  autoStart: false,
  models: { Delivery: z.object({ id: z.string() }).passthrough() },
  webhookSubscriptions: ['*'],
  exec: async () => {},
  onWebhook: async (nango, payload) => {
    const inherited = ({} as Record<string, unknown>).polluted ?? null;
    await nango.batchSave([{ id: String(payload.delivery), payload, ownKeys: Object.keys(payload), inherited }], 'Delivery');
  },
});`;

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, { 'keys/syncs/deliveries.ts': DELIVERIES });
  expect((await ferry.api.put('/providers/keys', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
}, 60_000);
afterAll(async () => { await ferry?.close(); });

async function configure(connectionIdPath: string) {
  const put = await ferry.api.put('/providers/keys/webhook', { signature_header: 'x-signature', secret: SECRET, connection_id_path: connectionIdPath });
  expect(put.status).toBe(200);
}

async function deliver(body: string) {
  const response = await fetch(`${ferry.url}/webhooks/dev/keys`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') }, body,
  });
  return { status: response.status, body: await response.json() as any };
}

/** The runs a delivery made, once the webhook worker has completed its job: the connection and status of each. */
async function runsOf(jobId: string) {
  await waitFor(`delivery ${jobId} processed`, async () => {
    const [row] = await ferry.db.sql<{ state: string }[]>`select state from pgboss.job where id = ${jobId}`;
    return row?.state === 'completed' ? true : undefined;
  }, 60_000);
  return ferry.db.sql<{ connection_id: string; status: string }[]>`
    select c.connection_id, r.status from runs r join connections c on c.id = r.connection_id where r.job_id = ${jobId} and r.kind = 'webhook'`;
}

test('a "__proto__" key in a signed payload is accepted and reaches the script and its record as data', async () => {
  await configure('account.id');
  const connection = idForThisAttempt('proto');
  expect((await ferry.api.post('/connections', { connection_id: connection, provider: 'keys' })).status).toBe(201);
  const delivery = idForThisAttempt('d-proto');
  const body = `{"delivery":${JSON.stringify(delivery)},"account":{"id":${JSON.stringify(connection)}},"__proto__":{"polluted":"yes"},"nested":{"__proto__":{"x":1}}}`;
  const ack = await deliver(body);
  expect(ack.status).toBe(202);
  expect([...await runsOf(ack.body.id)]).toEqual([{ connection_id: connection, status: 'succeeded' }]);

  const { records } = await readAll(ferry.api, connection, 'Delivery');
  const saved = records.find((r) => r.id === delivery);
  expect(saved).toBeDefined();
  // The record as stored holds the key as an own key, with what the provider sent under it.
  expect(Object.hasOwn(saved.payload, '__proto__')).toBe(true);
  expect(Object.getOwnPropertyDescriptor(saved.payload, '__proto__')!.value).toEqual({ polluted: 'yes' });
  expect(Object.getOwnPropertyDescriptor(saved.payload.nested, '__proto__')!.value).toEqual({ x: 1 });
  expect([...saved.ownKeys].sort()).toEqual(['__proto__', 'account', 'delivery', 'nested']);
  // Nothing in the isolate inherited it.
  expect(saved.inherited).toBeNull();
});

test('a configured dot path reads own keys only: an inherited "constructor" names no connection', async () => {
  await configure('account.constructor.name');
  // The connection an inherited read would have found: Object.prototype.constructor.name.
  const target = 'Object';
  const created = await ferry.api.post('/connections', { connection_id: target, provider: 'keys' });
  expect([200, 201]).toContain(created.status);

  const hostileDelivery = idForThisAttempt('d-inherited');
  const hostile = await deliver(JSON.stringify({ delivery: hostileDelivery, account: {} }));
  expect(hostile.status).toBe(202);
  expect([...await runsOf(hostile.body.id)]).toEqual([]);

  // The same path over keys the payload does hold is read as before.
  const ownDelivery = idForThisAttempt('d-own');
  const own = await deliver(JSON.stringify({ delivery: ownDelivery, account: { constructor: { name: target } } }));
  expect(own.status).toBe(202);
  expect([...await runsOf(own.body.id)]).toEqual([{ connection_id: target, status: 'succeeded' }]);
  const ids = (await readAll(ferry.api, target, 'Delivery')).records.map((r) => r.id);
  expect(ids).toContain(ownDelivery);
  expect(ids).not.toContain(hostileDelivery);
});
