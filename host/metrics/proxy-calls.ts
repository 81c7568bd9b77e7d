/** Proxied provider calls of runs, by provider: calls, failed calls, retries, and waits for the shared rate limits. */
import type { Sql } from '../db/connect.ts';
import type { MetricFamily } from './prometheus.ts';

const PER_PROVIDER = `
select c.provider,
  count(*)::bigint::text as calls,
  count(*) filter (where rc.error is not null or rc.status is null or rc.status >= 400)::bigint::text as errors,
  coalesce(sum(rc.retries), 0)::bigint::text as retries,
  count(*) filter (where rc.rate_limit_wait_ms > 0)::bigint::text as waits,
  coalesce(sum(rc.rate_limit_wait_ms), 0)::bigint::text as wait_ms
from run_calls rc
join runs r on r.id = rc.run_id
join connections c on c.id = r.connection_id
group by c.provider
order by c.provider`;

export async function proxyCallFamilies(sql: Sql): Promise<MetricFamily[]> {
  const rows = await sql.unsafe<Array<{ provider: string; calls: string; errors: string; retries: string; waits: string; wait_ms: string }>>(PER_PROVIDER);
  const family = (name: string, help: string, value: (r: (typeof rows)[number]) => number): MetricFamily => ({
    name, help, type: 'counter', samples: rows.map((r) => ({ labels: { provider: r.provider }, value: value(r) })),
  });
  return [
    family('ferry_proxy_calls_total', 'Provider calls runs made through the proxy, by provider.', (r) => Number(r.calls)),
    family('ferry_proxy_call_errors_total', 'Proxied calls that failed (no response, an error, or a 4xx/5xx status), by provider.', (r) => Number(r.errors)),
    family('ferry_proxy_retries_total', 'Retries of proxied calls (429, 5xx, network errors), by provider.', (r) => Number(r.retries)),
    family('ferry_proxy_rate_limit_waits_total', 'Proxied calls that waited for the shared rate limits before sending, by provider.', (r) => Number(r.waits)),
    family('ferry_proxy_rate_limit_wait_seconds_total', 'Time proxied calls spent waiting for the shared rate limits, by provider.', (r) => Number(r.wait_ms) / 1000),
  ];
}
