/**
 * Incoming provider webhooks: verified and acknowledged by the API, queued on their own pg-boss
 * queue, and routed by a worker to the syncs that subscribe to the event.
 */
import type { PgBoss } from 'pg-boss';
import { createJobQueue } from '../actions/job-queue.ts';
import { isTransientDatabaseError } from '../db/transient.ts';
import { createProviderWebhooks } from './provider-webhooks.ts';
import { rememberDelivery } from './replay.ts';
import { createWebhookRunner, type WebhookDelivery, type WebhookRunnerDeps } from './webhook-runner.ts';

export const WEBHOOK_QUEUE = 'ferry-webhook-in';

export { ProviderWebhookSchema, toPublicWebhook, type ProviderWebhook, type ProviderWebhooks } from './provider-webhooks.ts';
export type { WebhookDelivery } from './webhook-runner.ts';

export async function createWebhooksIn(deps: Omit<WebhookRunnerDeps, 'providerWebhooks'> & { boss: PgBoss; jobHeartbeatSeconds?: number }) {
  const providerWebhooks = createProviderWebhooks(deps.sql);
  const runner = createWebhookRunner({ ...deps, providerWebhooks });
  // Retried once: a delivery that failed in the host (not in a script) gets a second chance, and
  // one whose worker was lost another. A retry runs only the syncs the delivery has not run yet.
  const queue = await createJobQueue<WebhookDelivery>(deps.boss, deps.sql, WEBHOOK_QUEUE, deps.logger, {
    retryLimit: 1, ...(deps.jobHeartbeatSeconds !== undefined && { heartbeatSeconds: deps.jobHeartbeatSeconds }),
  });
  return {
    providerWebhooks,
    webhookRunner: runner,
    /**
     * Queues a delivery, once per provider delivery id (replay.ts): the id remembered and the job
     * sent in one transaction, so neither is kept without the other. `duplicate`: already received.
     */
    acceptWebhook: async (delivery: WebhookDelivery, providerDeliveryId: string | null): Promise<{ id: string | null; duplicate: boolean }> => {
      if (providerDeliveryId === null) return { id: await queue.send(delivery), duplicate: false };
      return deps.sql.begin(async (tx) => {
        if (!(await rememberDelivery(tx, delivery.environmentId, delivery.provider, providerDeliveryId))) return { id: null, duplicate: true };
        return { id: await queue.send(delivery, tx), duplicate: false };
      });
    },
    // A lost database anywhere in the delivery queues it again (2 s later), under its first id.
    workWebhooks: (concurrency: number) => queue.work(concurrency, (delivery, jobId) => runner.process(delivery, delivery.deliveryId ?? jobId), {
      requeueWhen: isTransientDatabaseError,
      requeueData: (job) => ({ ...job.data, deliveryId: job.data.deliveryId ?? job.id }),
    }),
    stopWebhooks: (timeoutMs: number) => queue.stop(timeoutMs),
  };
}
export type WebhooksIn = Awaited<ReturnType<typeof createWebhooksIn>>;
