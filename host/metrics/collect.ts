/**
 * Ferry's metrics, read from Postgres at scrape time: every API instance reports the same
 * numbers (nothing lives in one process's memory), and a restart loses nothing.
 * Runs by kind and status, run durations, records written, pg-boss queue depth; per-script
 * durations and peak memory, run outcomes, proxy calls per provider, webhook deliveries; and the
 * figures of the process that answers.
 */
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { processFamilies } from './process.ts';
import type { HistogramSample, MetricFamily, Sample } from './prometheus.ts';
import { proxyCallFamilies } from './proxy-calls.ts';
import { scriptRunFamilies } from './script-runs.ts';
import { bucketColumns } from './sql-histogram.ts';
import { webhookDeliveryFamilies } from './webhook-deliveries.ts';

/** Run wall time bucket bounds, in seconds. */
export const RUN_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600] as const;

/** One pass over runs: counts per (kind, status), durations of finished runs, records written. */
const RUN_STATS = `
select kind, status, count(*)::bigint::text as runs,
  ${bucketColumns('wall_ms', RUN_DURATION_BUCKETS, 'b', 1000)},
  count(wall_ms)::bigint::text as timed, coalesce(sum(wall_ms), 0)::bigint::text as wall_ms_sum,
  coalesce(sum(added), 0)::bigint::text as added,
  coalesce(sum(updated), 0)::bigint::text as updated,
  coalesce(sum(deleted), 0)::bigint::text as deleted
from runs
group by kind, status
order by kind, status`;

/** Jobs waiting or running per queue; finished jobs are history, not depth. */
const QUEUE_DEPTH = `
select name, state::text as state, count(*)::bigint::text as jobs
from pgboss.job
where state in ('created', 'retry', 'active')
group by name, state
order by name, state`;

type RunStatsRow = Record<string, string> & { kind: string; status: string };

export interface MetricsCollector {
  collect(): Promise<MetricFamily[]>;
}

export function createMetricsCollector(deps: { sql: Sql; logger: Logger }): MetricsCollector {
  const log = deps.logger.child({ module: 'metrics' });

  async function queueDepth(): Promise<Sample[]> {
    try {
      const rows = await deps.sql.unsafe<{ name: string; state: string; jobs: string }[]>(QUEUE_DEPTH);
      return rows.map((r) => ({ labels: { queue: r.name, state: r.state }, value: Number(r.jobs) }));
    } catch (err) {
      // Before pg-boss has created its schema there is no queue to measure.
      if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') return [];
      log.warn({ err }, 'queue depth unavailable');
      return [];
    }
  }

  return {
    async collect() {
      const [runRows, depth, scriptRuns, proxyCalls, webhooks] = await Promise.all([
        deps.sql.unsafe<RunStatsRow[]>(RUN_STATS), queueDepth(),
        scriptRunFamilies(deps.sql), proxyCallFamilies(deps.sql), webhookDeliveryFamilies(deps.sql),
      ]);
      const runs: Sample[] = [];
      const durations: HistogramSample[] = [];
      const written = new Map<string, number>();
      const finishedByKind = new Map<string, HistogramSample>();
      for (const row of runRows) {
        runs.push({ labels: { kind: row.kind, status: row.status }, value: Number(row.runs) });
        for (const action of ['added', 'updated', 'deleted'] as const) written.set(action, (written.get(action) ?? 0) + Number(row[action]));
        if (row.status === 'running') continue;
        const h = finishedByKind.get(row.kind) ?? { labels: { kind: row.kind }, buckets: RUN_DURATION_BUCKETS.map((le) => ({ le, count: 0 })), count: 0, sum: 0 };
        RUN_DURATION_BUCKETS.forEach((_, i) => { h.buckets[i]!.count += Number(row[`b${i}`]); });
        h.count += Number(row.timed);
        h.sum += Number(row.wall_ms_sum) / 1000;
        finishedByKind.set(row.kind, h);
      }
      durations.push(...finishedByKind.values());
      return [
        { name: 'ferry_runs', help: 'Runs by kind and status (running, succeeded, failed), as kept in the runs table.', type: 'gauge', samples: runs },
        { name: 'ferry_run_duration_seconds', help: 'Wall time of finished runs.', type: 'histogram', samples: durations },
        {
          name: 'ferry_records_written_total',
          help: 'Record changes written by runs, by action.',
          type: 'counter',
          samples: [...written].map(([action, value]) => ({ labels: { action }, value })),
        },
        { name: 'ferry_queue_jobs', help: 'pg-boss jobs waiting (created, retry) or running (active), by queue.', type: 'gauge', samples: depth },
        ...scriptRuns, ...proxyCalls, ...webhooks, ...processFamilies(),
      ];
    },
  };
}
