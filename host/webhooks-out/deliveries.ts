/**
 * Outgoing webhooks, as an outbox: the delivery row and its pg-boss job are written in the
 * transaction that finishes the run, so a change the app should hear about is never lost and
 * never announced for a run that rolled back. pg-boss retries a failed POST with exponential
 * backoff and jitter (retryBackoff); every attempt updates the delivery row.
 */
import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { pgBossDb } from '../queue/pg-boss-db.ts';
import { SIGNATURE_HEADER, signPayload } from './signature.ts';

export const WEBHOOK_QUEUE = 'ferry-webhook-out';

export const SyncWebhookSchema = z.object({
  type: z.literal('sync'),
  from: z.literal('ferry'),
  connection_id: z.string(),
  provider: z.string(),
  sync_name: z.string(),
  model: z.string(),
  sync_type: z.enum(['full', 'incremental']),
  run_id: z.string(),
  counts: z.object({ added: z.number(), updated: z.number(), deleted: z.number() }),
  /** Read `GET /records?model&connection_id&cursor=<this>` to get exactly what this run changed (and later changes). */
  cursor: z.string(),
  modified_after: z.string(),
  /** Present when the run succeeded with warnings about this model (e.g. DELETES_HELD: deletes held by the mass-delete guard). */
  warnings: z.array(z.object({ code: z.string(), model: z.string(), message: z.string(), held: z.number(), live: z.number() })).optional(),
});
export type SyncWebhook = z.infer<typeof SyncWebhookSchema>;

export interface WebhookSenderOptions {
  sql: Sql;
  boss: PgBoss;
  logger: Logger;
  /** pg-boss retry settings: attempts after the first, first delay (s), cap (s). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryDelayMaxSeconds?: number;
  timeoutMs?: number;
}

export async function createWebhookSender(options: WebhookSenderOptions) {
  const log = options.logger.child({ module: 'webhooks-out' });
  const { sql, boss } = options;
  const queueOptions = {
    retryLimit: options.retryLimit ?? 10,
    retryDelay: options.retryDelaySeconds ?? 5,
    retryBackoff: true,
    retryDelayMax: options.retryDelayMaxSeconds ?? 3600,
    expireInSeconds: 60,
  };
  await boss.createQueue(WEBHOOK_QUEUE, queueOptions).catch((err: unknown) => {
    if (!String((err as Error).message).includes('already exists')) throw err;
  });
  await boss.updateQueue(WEBHOOK_QUEUE, queueOptions);

  async function deliver(deliveryId: string, attempt: number): Promise<void> {
    const [row] = await sql<{ url: string; payload: unknown; secret: string | null; status: string }[]>`
      select d.url, d.payload, s.webhook_secret as secret, d.status
      from webhook_deliveries d left join environment_settings s on s.environment_id = d.environment_id
      where d.id = ${deliveryId}`;
    if (!row || row.status === 'delivered') return;
    const body = JSON.stringify(row.payload);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(row.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Ferry-Webhook/1',
          'x-ferry-delivery': deliveryId,
          ...(row.secret && { [SIGNATURE_HEADER]: signPayload(row.secret, body) }),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      status = response.status;
      await response.body?.cancel().catch(() => {});
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const final = error === null ? 'delivered' : attempt >= queueOptions.retryLimit ? 'failed' : 'pending';
    await sql`
      update webhook_deliveries set attempts = attempts + 1, last_status = ${status}, last_error = ${error}, status = ${final},
        delivered_at = ${error === null ? sql`now()` : sql`null`}
      where id = ${deliveryId}`;
    if (error !== null) {
      log.warn({ deliveryId, attempt, status, error }, 'webhook delivery failed');
      throw new Error(`webhook delivery ${deliveryId}: ${error}`);
    }
  }

  return {
    /** In the run's finishing transaction: one delivery per changed model, if the environment has a URL. */
    async enqueue(tx: TransactionSql, environmentId: string, runId: string, events: SyncWebhook[]): Promise<number> {
      if (events.length === 0) return 0;
      const [settings] = await tx<{ webhook_url: string | null }[]>`select webhook_url from environment_settings where environment_id = ${environmentId}`;
      if (!settings?.webhook_url) return 0;
      const rows = await tx<{ id: string }[]>`
        insert into webhook_deliveries (environment_id, run_id, url, payload)
        select ${environmentId}, ${runId}, ${settings.webhook_url}, e from jsonb_array_elements(${JSON.stringify(events)}::text::jsonb) e
        returning id`;
      await boss.insert(WEBHOOK_QUEUE, rows.map((r) => ({ data: { deliveryId: r.id } })), { db: pgBossDb(tx) });
      return rows.length;
    },

    async work(concurrency = 2): Promise<string> {
      return boss.work<{ deliveryId: string }>(WEBHOOK_QUEUE, { localConcurrency: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) await deliver(job.data.deliveryId, job.retryCount ?? 0);
      });
    },
  };
}
export type WebhookSender = Awaited<ReturnType<typeof createWebhookSender>>;
