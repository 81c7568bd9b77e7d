/**
 * Outgoing webhooks, as an outbox: the delivery row and its pg-boss job are written in the
 * transaction that finishes the run, so a change the app should hear about is never lost and
 * never announced for a run that rolled back. pg-boss retries a failed POST with exponential
 * backoff and jitter (retryBackoff); every attempt updates the delivery row. Any process may
 * publish (createWebhookOutbox); worker processes deliver (createWebhookSender).
 */
import type { PgBoss } from 'pg-boss';
import type { FerryWebhookEvent, SyncEvent } from '@ferry/client/webhook-events';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { rowRead, type RowRead } from '../db/read-together.ts';
import { pgBossDb } from '../queue/pg-boss-db.ts';
import { SIGNATURE_HEADER, signPayload, standardWebhookHeaders } from './signature.ts';

export const WEBHOOK_QUEUE = 'ferry-webhook-out';

export type { FerryWebhookEvent } from '@ferry/client/webhook-events';
/** A sync run's change notification (one per changed model). */
export type SyncWebhook = SyncEvent;

export interface WebhookQueueOptions {
  /** pg-boss retry settings: attempts after the first, first delay (s), cap (s). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryDelayMaxSeconds?: number;
}

export interface WebhookSenderOptions extends WebhookQueueOptions {
  sql: Sql;
  boss: PgBoss;
  logger: Logger;
  timeoutMs?: number;
  /** The process's outbox, when it already has one (the queue is then set up already). */
  outbox?: WebhookOutbox;
}

function queueOptionsOf(options: WebhookQueueOptions) {
  return {
    retryLimit: options.retryLimit ?? 10,
    retryDelay: options.retryDelaySeconds ?? 5,
    retryBackoff: true,
    retryDelayMax: options.retryDelayMaxSeconds ?? 3600,
    expireInSeconds: 60,
  };
}

/** The environment's webhook URL, null without one (a sync run reads it with its other reads: read-together.ts). */
export function webhookUrlRead(sql: Sql, environmentId: string): RowRead<string | null> {
  return rowRead(sql`select webhook_url from environment_settings where environment_id = ${environmentId}`,
    (row) => (row?.webhook_url as string | null | undefined) ?? null);
}

/**
 * Writes events for the app in the caller's transaction: a delivery row per event and its job,
 * if the environment has a webhook URL. Ensures the queue exists, so API-only processes can publish.
 */
export async function createWebhookOutbox(options: { boss: PgBoss } & WebhookQueueOptions) {
  const { boss } = options;
  const queueOptions = queueOptionsOf(options);
  await boss.createQueue(WEBHOOK_QUEUE, queueOptions).catch((err: unknown) => {
    if (!String((err as Error).message).includes('already exists')) throw err;
  });
  await boss.updateQueue(WEBHOOK_QUEUE, queueOptions);

  async function publish(tx: TransactionSql, environmentId: string, events: FerryWebhookEvent[], runId: string | null = null): Promise<number> {
    if (events.length === 0) return 0;
    const [settings] = await tx<{ webhook_url: string | null }[]>`select webhook_url from environment_settings where environment_id = ${environmentId}`;
    if (!settings?.webhook_url) return 0;
    const rows = await tx<{ id: string }[]>`
      insert into webhook_deliveries (environment_id, run_id, url, payload, event_type)
      select ${environmentId}, ${runId}, ${settings.webhook_url}, e, e->>'type' from jsonb_array_elements(${JSON.stringify(events)}::text::jsonb) e
      returning id`;
    await boss.insert(WEBHOOK_QUEUE, rows.map((r) => ({ data: { deliveryId: r.id } })), { db: pgBossDb(tx) });
    return rows.length;
  }

  return {
    publish,
    /** In the run's finishing transaction: one delivery per changed model. */
    enqueue: (tx: TransactionSql, environmentId: string, runId: string, events: SyncWebhook[]) => publish(tx, environmentId, events, runId),
  };
}
export type WebhookOutbox = Awaited<ReturnType<typeof createWebhookOutbox>>;

export async function createWebhookSender(options: WebhookSenderOptions) {
  const log = options.logger.child({ module: 'webhooks-out' });
  const { sql, boss } = options;
  const queueOptions = queueOptionsOf(options);
  const outbox = options.outbox ?? await createWebhookOutbox(options);

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
          ...(row.secret && { ...standardWebhookHeaders(row.secret, `msg_${deliveryId}`, body), [SIGNATURE_HEADER]: signPayload(row.secret, body) }),
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
    ...outbox,

    async work(concurrency = 2): Promise<string> {
      return boss.work<{ deliveryId: string }>(WEBHOOK_QUEUE, { localConcurrency: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) await deliver(job.data.deliveryId, job.retryCount ?? 0);
      });
    },
  };
}
export type WebhookSender = Awaited<ReturnType<typeof createWebhookSender>>;
