/**
 * Incoming provider webhooks: verified and acknowledged by the API, queued on their own pg-boss
 * queue, and routed by a worker to the syncs that subscribe to the event.
 */
import type { PgBoss } from 'pg-boss';
import { createJobQueue } from '../actions/job-queue.ts';
import { createProviderWebhooks } from './provider-webhooks.ts';
import { createWebhookRunner, type WebhookDelivery, type WebhookRunnerDeps } from './webhook-runner.ts';

export const WEBHOOK_QUEUE = 'ferry-webhook-in';

export { ProviderWebhookSchema, toPublicWebhook, type ProviderWebhook, type ProviderWebhooks } from './provider-webhooks.ts';
export type { WebhookDelivery } from './webhook-runner.ts';

export async function createWebhooksIn(deps: Omit<WebhookRunnerDeps, 'providerWebhooks'> & { boss: PgBoss }) {
  const providerWebhooks = createProviderWebhooks(deps.sql);
  const runner = createWebhookRunner({ ...deps, providerWebhooks });
  // Retried once: a delivery that failed in the host (not in a script) gets a second chance.
  const queue = await createJobQueue<WebhookDelivery>(deps.boss, WEBHOOK_QUEUE, deps.logger, { retryLimit: 1 });
  return {
    providerWebhooks,
    webhookRunner: runner,
    enqueueWebhook: (delivery: WebhookDelivery) => queue.send(delivery),
    workWebhooks: (concurrency: number) => queue.work(concurrency, (delivery) => runner.process(delivery)),
  };
}
export type WebhooksIn = Awaited<ReturnType<typeof createWebhooksIn>>;
