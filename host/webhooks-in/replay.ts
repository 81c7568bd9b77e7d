/**
 * Replay protection for incoming webhooks, as far as each provider's own scheme allows: a send
 * time the provider signs (Slack, Standard Webhooks) is held to a tolerance, so a captured request
 * sent again later is refused; and the provider's unique delivery id (GitHub's X-GitHub-Delivery,
 * Shopify's X-Shopify-Webhook-Id, Stripe's event id) is remembered for DELIVERY_ID_RETENTION_DAYS,
 * so a delivery received twice (the provider's retry after a lost answer, or a replay) is queued
 * once. The checks answer as data; the route turns a refusal into its 4xx.
 */
import type { Sql, TransactionSql } from '../db/connect.ts';
import { readScalar } from '../json-path.ts';
import type { ProviderWebhook } from './provider-webhooks.ts';

/** Longer than any provider's retries (Stripe's last about 3 days, Shopify's 2), and than any tolerance. */
export const DELIVERY_ID_RETENTION_DAYS = 7;
/** No provider's delivery ids are longer: a longer one is refused rather than stored. */
export const MAX_DELIVERY_ID_CHARS = 255;
/** Expired ids each new one deletes: more than one, so the table shrinks back after a burst. */
const PRUNED_PER_DELIVERY = 20;

export interface ReplayRefusal {
  status: 400 | 401;
  code: 'INVALID_TIMESTAMP' | 'STALE_TIMESTAMP' | 'INVALID_DELIVERY_ID';
  message: string;
  path: string[];
}

/** Where a delivery's signed send time is (a header, or a part of the signature header), as the request carried it. */
export interface TimestampSource {
  value: string | undefined;
  /** How a refusal names it: "the x-slack-request-timestamp header". */
  label: string;
  path: string[];
}

/** Null when the send time is within the tolerance, or the scheme signs none (`source` null). */
export function timestampRefusal(config: Pick<ProviderWebhook, 'tolerance_seconds'>, source: TimestampSource | null, nowMs: number): ReplayRefusal | null {
  if (!source) return null;
  const { label, path } = source;
  if (source.value === undefined) return { status: 401, code: 'INVALID_TIMESTAMP', message: `${label} is missing`, path };
  const text = source.value.trim();
  if (!/^\d{1,12}$/.test(text)) return { status: 401, code: 'INVALID_TIMESTAMP', message: `${label} is not a unix time in seconds`, path };
  const skewSeconds = Math.abs(nowMs / 1000 - Number(text));
  if (skewSeconds <= config.tolerance_seconds) return null;
  const sent = new Date(Number(text) * 1000).toISOString();
  return {
    status: 401, code: 'STALE_TIMESTAMP', path,
    message: `${label} says the delivery was sent at ${sent}, ${Math.round(skewSeconds)} s from now: beyond the ${config.tolerance_seconds}-second tolerance (replayed, or a clock far off)`,
  };
}

/** The provider's delivery id ({ id: null } when the scheme has none), or why the delivery is refused. */
export function deliveryIdOf(config: Pick<ProviderWebhook, 'delivery_id_header' | 'delivery_id_path'>, header: string | undefined, payload: unknown): { id: string | null } | ReplayRefusal {
  const where = config.delivery_id_header ? { path: ['headers', config.delivery_id_header], name: `the ${config.delivery_id_header} header` }
    : config.delivery_id_path ? { path: ['body', ...config.delivery_id_path.split('.')], name: `the payload's ${config.delivery_id_path}` } : null;
  if (!where) return { id: null };
  const id = config.delivery_id_header ? header?.trim() : readScalar(payload, config.delivery_id_path!);
  if (!id) return { status: 400, code: 'INVALID_DELIVERY_ID', message: `${where.name} (the provider's delivery id) is missing or empty`, path: where.path };
  if (id.length > MAX_DELIVERY_ID_CHARS) return { status: 400, code: 'INVALID_DELIVERY_ID', message: `${where.name} is ${id.length} characters long, over the ${MAX_DELIVERY_ID_CHARS} a delivery id may have`, path: where.path };
  return { id };
}

/**
 * Remembers a delivery id in the caller's transaction (the one that queues the delivery): false
 * when it was already received. A concurrent receipt of the same id waits on this row, then sees
 * it. Expired ids are deleted a few at a time first, skipping rows another receipt holds.
 */
export async function rememberDelivery(tx: TransactionSql | Sql, environmentId: string, provider: string, deliveryId: string): Promise<boolean> {
  await tx`
    delete from webhook_deliveries_seen where ctid in (
      select ctid from webhook_deliveries_seen where received_at < now() - ${DELIVERY_ID_RETENTION_DAYS} * interval '1 day'
      limit ${PRUNED_PER_DELIVERY} for update skip locked)`;
  const inserted = await tx`
    insert into webhook_deliveries_seen (environment_id, provider, delivery_id) values (${environmentId}, ${provider}, ${deliveryId})
    on conflict do nothing`;
  return inserted.count > 0;
}
