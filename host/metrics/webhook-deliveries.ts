/** Outgoing webhooks: deliveries by state and event type, attempts and failed attempts. */
import type { Sql } from '../db/connect.ts';
import type { MetricFamily } from './prometheus.ts';

const DELIVERIES = `
select status, event_type, count(*)::bigint::text as deliveries,
  coalesce(sum(attempts), 0)::bigint::text as attempts,
  coalesce(sum(attempts - case when status = 'delivered' then 1 else 0 end), 0)::bigint::text as failed_attempts
from webhook_deliveries
group by status, event_type
order by status, event_type`;

export async function webhookDeliveryFamilies(sql: Sql): Promise<MetricFamily[]> {
  const rows = await sql.unsafe<Array<{ status: string; event_type: string; deliveries: string; attempts: string; failed_attempts: string }>>(DELIVERIES);
  const byEvent = (column: 'attempts' | 'failed_attempts') => {
    const sums = new Map<string, number>();
    for (const r of rows) sums.set(r.event_type, (sums.get(r.event_type) ?? 0) + Number(r[column]));
    return [...sums].map(([event, value]) => ({ labels: { event }, value }));
  };
  return [
    {
      name: 'ferry_webhook_deliveries', help: 'Outgoing webhook deliveries by state (pending, delivered, failed: retries used up) and event type.', type: 'gauge',
      samples: rows.map((r) => ({ labels: { status: r.status, event: r.event_type }, value: Number(r.deliveries) })),
    },
    { name: 'ferry_webhook_delivery_attempts_total', help: 'Attempts to deliver outgoing webhooks, by event type.', type: 'counter', samples: byEvent('attempts') },
    { name: 'ferry_webhook_delivery_failures_total', help: 'Delivery attempts that failed (non-2xx, timeout, unreachable), by event type.', type: 'counter', samples: byEvent('failed_attempts') },
  ];
}
