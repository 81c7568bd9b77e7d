/**
 * Shared by the incoming-webhook tests that post signed deliveries to a whole host: a sync that
 * saves one record per delivery it runs for (named by the payload's `n`), posting a delivery, and
 * counting the deliveries queued for a provider.
 */
import { WEBHOOK_QUEUE } from '../../host/webhooks-in/index.ts';
import type { TestFerry } from '../helpers/ferry.ts';

export const DELIVERIES_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'one record per delivery run',
  frequency: 'every day',
  autoStart: false,
  models: { Seen: z.object({ id: z.string() }) },
  webhookSubscriptions: ['*'],
  exec: async () => {},
  onWebhook: async (nango, payload) => { await nango.batchSave([{ id: String(payload.n) }], 'Seen'); },
});`;

/** POSTs `body` to the provider's webhook URL in the dev environment; the answer's status and JSON. */
export async function postDelivery(ferry: Pick<TestFerry, 'url'>, provider: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${ferry.url}/webhooks/dev/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: await response.json() as any };
}

/** How many deliveries of `provider` were ever queued. */
export async function queuedDeliveries(ferry: Pick<TestFerry, 'db'>, provider: string): Promise<number> {
  const [row] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from pgboss.job where name = ${WEBHOOK_QUEUE} and data->>'provider' = ${provider}`;
  return row!.n;
}
