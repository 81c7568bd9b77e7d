/**
 * Incoming provider webhooks through a whole host: verified by HMAC signature, acknowledged
 * with 202, queued, routed to the syncs whose webhookSubscriptions take the event, and run with
 * the sync context for the connection the payload names, whose records then change.
 */
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { deploySources, readAll, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';

const MODELS = fileURLToPath(new URL('../../scripts/demo/models.ts', import.meta.url));
const SECRET = 'whsec_0123456789abcdef';


// Subscribed to one event type: saves the contact the payload carries.
const CONTACTS = `
import { createSync } from 'ferry/sdk';
import { ContactSchema } from ${JSON.stringify(MODELS)};
export default createSync({
  description: 'contacts, kept fresh by webhooks',
  frequency: 'every day',
  autoStart: false,
  models: { Contact: ContactSchema },
  webhookSubscriptions: ['contact.updated'],
  exec: async () => {},
  onWebhook: async (nango, payload) => {
    nango.log('webhook for', nango.connectionId, payload.type);
    await nango.batchSave([payload.contact], 'Contact');
  },
});`;

// Subscribed to every event: records each delivery it sees.
const AUDIT = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'every webhook, as an audit record',
  frequency: 'every day',
  autoStart: false,
  models: { WebhookEvent: z.object({ id: z.string(), type: z.string() }) },
  webhookSubscriptions: ['*'],
  exec: async () => {},
  onWebhook: async (nango, payload) => {
    await nango.batchSave([{ id: payload.delivery, type: payload.type }], 'WebhookEvent');
  },
});`;

let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'provider-key', contacts: 2, seed: 5 });
  ferry = await startTestFerry();
  await deploySources(ferry, { 'demo/syncs/contacts.ts': CONTACTS, 'demo/syncs/audit.ts': AUDIT });
  expect((await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
  for (const id of ['crm-1', 'crm-2']) {
    expect((await ferry.api.post('/connections', { connection_id: id, provider: 'demo', credentials: { type: 'bearer', token: 'provider-key' } })).status).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

function sign(body: string) {
  return `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
}

async function deliver(path: string, payload: unknown, signature?: string) {
  const body = JSON.stringify(payload);
  const response = await fetch(`${ferry.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-signature': signature ?? sign(body) },
    body,
  });
  return { status: response.status, body: await response.json() as any };
}

describe('webhook configuration', () => {
  test('is stored per provider and shown without its secret', async () => {
    const put = await ferry.api.put('/providers/demo/webhook', {
      signature_header: 'X-Demo-Signature', algorithm: 'sha256', encoding: 'hex', signature_prefix: 'sha256=',
      secret: SECRET, connection_id_path: 'account.connection', event_path: 'type',
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ provider: 'demo', url: '/webhooks/dev/demo', signature_header: 'x-demo-signature' });
    const got = await ferry.api.get('/providers/demo/webhook');
    expect(got.body).toMatchObject({ connection_id_path: 'account.connection', event_path: 'type' });
    expect(JSON.stringify(got.body)).not.toContain(SECRET);
    const invalid = await ferry.api.put('/providers/demo/webhook', { signature_header: 'x', secret: 'short', connection_id_path: 'a..b' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.issues.map((i: any) => i.path.join('.'))).toEqual(expect.arrayContaining(['body.secret', 'body.connection_id_path']));
  });
});

describe('an incoming webhook', () => {
  test('is refused without a valid signature, and unknown endpoints are 404', async () => {
    const payload = { type: 'contact.updated', account: { connection: 'crm-2' } };
    const forged = await deliver('/webhooks/dev/demo', payload, sign('{"something":"else"}'));
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('INVALID_SIGNATURE');
    expect((await deliver('/webhooks/dev/demo', payload, '')).status).toBe(401);
    expect((await deliver('/webhooks/nowhere/demo', payload)).status).toBe(404);
    expect((await deliver('/webhooks/dev/other', payload)).status).toBe(404);
  });

  test('is acknowledged with 202 and saves records for the connection it names, through the subscribed sync', async () => {
    const contact = { ...provider.contacts()[0]!, notes: 'changed by a webhook' };
    const ack = await deliver('/webhooks/dev/demo', { type: 'contact.updated', delivery: 'd-1', account: { connection: 'crm-2' }, contact });
    expect(ack.status).toBe(202);
    expect(ack.body).toMatchObject({ accepted: true, event: 'contact.updated' });

    const records = await waitFor('the webhook to save the contact', async () => {
      const page = await readAll(ferry.api, 'crm-2', 'Contact');
      return page.records.length > 0 ? page.records : undefined;
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: contact.id, notes: 'changed by a webhook' });
    expect((await readAll(ferry.api, 'crm-1', 'Contact')).records).toHaveLength(0);

    const runs = await waitFor('the webhook runs to finish', async () => {
      const { body } = await ferry.api.get('/runs?connection_id=crm-2');
      const done = body.runs.filter((r: any) => r.kind === 'webhook' && r.status !== 'running');
      return done.length === 2 ? done : undefined;
    });
    expect(runs.map((r: any) => r.sync).sort()).toEqual(['audit', 'contacts']);
    for (const run of runs) expect(run).toMatchObject({ status: 'succeeded', trigger: 'webhook', counts: { added: 1 } });
    const contactsRun = runs.find((r: any) => r.sync === 'contacts');
    const logs = await ferry.api.get(`/runs/${contactsRun.id}/logs`);
    expect(logs.body.logs.map((l: any) => l.message)).toContain('webhook for crm-2 contact.updated');
  });

  test('reaches only the syncs subscribed to its event type', async () => {
    const ack = await deliver('/webhooks/dev/demo', { type: 'contact.archived', delivery: 'd-2', account: { connection: 'crm-1' } });
    expect(ack.status).toBe(202);
    // The catch-all sync sees it...
    await waitFor('the audit sync to record the event', async () => {
      const page = await readAll(ferry.api, 'crm-1', 'WebhookEvent');
      return page.records.some((r) => r.id === 'd-2') ? true : undefined;
    });
    const { body } = await ferry.api.get('/runs?connection_id=crm-1');
    // ...and the contacts sync, subscribed to contact.updated only, never ran for it.
    expect(body.runs.filter((r: any) => r.kind === 'webhook').map((r: any) => r.sync)).toEqual(['audit']);
  });

  test('a payload naming no known connection is accepted and changes nothing', async () => {
    const ack = await deliver('/webhooks/dev/demo', { type: 'contact.updated', delivery: 'd-3', account: { connection: 'ghost' } });
    expect(ack.status).toBe(202);
    const notJson = await fetch(`${ferry.url}/webhooks/dev/demo`, { method: 'POST', headers: { 'x-demo-signature': sign('not json') }, body: 'not json' });
    expect(notJson.status).toBe(400);
  });
});
