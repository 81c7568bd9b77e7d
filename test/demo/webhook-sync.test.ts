/**
 * Webhook-driven updates end to end: the demo helpdesk POSTs a signed `ticket.updated` to a
 * whole Ferry host, which verifies it, routes it to the tickets sync's onWebhook for the
 * connection the payload names, and the changed ticket is readable from /records at once,
 * without a scheduled run.
 */
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';
import { readAll, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  [ferry, provider] = await Promise.all([startTestFerry(), startDemoProvider({ apiKey: 'hk', contacts: 1, tickets: 30 })]);
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

it('a signed helpdesk webhook updates the ticket record for its connection', async () => {
  await ferry.api.put('/providers/helpdesk', { base_url: provider.baseUrls.helpdesk, auth: { type: 'bearer' } });
  const webhook = await ferry.api.put('/providers/helpdesk/webhook', {
    signature_header: 'X-Helpdesk-Signature', algorithm: 'sha256', encoding: 'hex', signature_prefix: 'sha256=',
    secret: 'whsec_demo_helpdesk', connection_id_path: 'account_id', event_path: 'type',
  });
  expect(webhook.status).toBe(200);
  await deployScripts({ dir: join(REPO, 'scripts'), url: ferry.url, key: TEST_SECRET_KEY });
  await ferry.api.post('/connections', { connection_id: 'helpdesk-1', provider: 'helpdesk', credentials: { type: 'bearer', token: 'hk' } });
  const first = await waitForRun(ferry.api, 'helpdesk-1', 'tickets', '0', 60_000);
  expect(first).toMatchObject({ status: 'succeeded', counts: { added: 30 } });
  const { cursor } = await readAll(ferry.api, 'helpdesk-1', 'Ticket');

  provider.helpdesk.subscribe(`${ferry.url}/webhooks/dev/helpdesk`, 'whsec_demo_helpdesk', 'helpdesk-1');
  const [id] = await provider.helpdesk.updateTickets(1);
  expect(provider.helpdesk.deliveries.at(-1)).toMatchObject({ type: 'ticket.updated', ticketId: id });
  expect(provider.helpdesk.deliveries.at(-1)!.status).toBeLessThan(300);

  const now = provider.helpdesk.tickets().find((t) => t.id === id)!;
  const changed = await waitFor('the webhook to update the ticket', async () => {
    const { records } = await readAll(ferry.api, 'helpdesk-1', 'Ticket', cursor);
    return records.find((r) => r.id === id && r.updated_at === now.updated_at);
  }, 60_000);
  expect(changed).toMatchObject({ status: now.status, priority: now.priority });
}, 180_000);
