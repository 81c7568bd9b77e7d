/**
 * Per-script run metrics, counted from the runs table at scrape time: wall time and peak heap of
 * finished runs as histograms by kind, provider and script name (names are unique per provider
 * only), and finished runs by outcome (status and the error's kind). Script names are the
 * deployer's, never a connection's or a customer's.
 */
import type { Sql } from '../db/connect.ts';
import type { MetricFamily } from './prometheus.ts';
import { bucketColumns, histogramFrom } from './sql-histogram.ts';

/** Wall time bucket bounds, in seconds. */
export const SCRIPT_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600] as const;
/** Peak heap bucket bounds, in bytes (1 MiB … 4 GiB, the largest memory limit). */
export const PEAK_MEMORY_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((mb) => mb * 1024 * 1024);

const PER_SCRIPT = `
select r.kind, c.provider, r.script_name,
  ${bucketColumns('wall_ms', SCRIPT_DURATION_BUCKETS, 'd', 1000)},
  ${bucketColumns('peak_heap_bytes', PEAK_MEMORY_BUCKETS, 'm')},
  count(wall_ms)::bigint::text as timed, coalesce(sum(wall_ms), 0)::bigint::text as wall_ms_sum,
  count(peak_heap_bytes)::bigint::text as measured, coalesce(sum(peak_heap_bytes), 0)::bigint::text as peak_sum
from runs r join connections c on c.id = r.connection_id
where r.status <> 'running'
group by r.kind, c.provider, r.script_name
order by r.kind, c.provider, r.script_name`;

const OUTCOMES = `
select kind, status, coalesce(error->>'kind', '') as error_kind, count(*)::bigint::text as runs
from runs
where status <> 'running'
group by kind, status, error->>'kind'
order by kind, status, error_kind`;

export async function scriptRunFamilies(sql: Sql): Promise<MetricFamily[]> {
  const [perScript, outcomes] = await Promise.all([
    sql.unsafe<Array<Record<string, string> & { kind: string; provider: string; script_name: string }>>(PER_SCRIPT),
    sql.unsafe<Array<{ kind: string; status: string; error_kind: string; runs: string }>>(OUTCOMES),
  ]);
  const labels = (r: { kind: string; provider: string; script_name: string }) => ({ kind: r.kind, provider: r.provider, script: r.script_name });
  return [
    {
      name: 'ferry_script_run_duration_seconds', help: 'Wall time of finished runs, by kind, provider and script.', type: 'histogram',
      samples: perScript.map((r) => histogramFrom(r, labels(r), SCRIPT_DURATION_BUCKETS, 'd', 'timed', 'wall_ms_sum', 1000)),
    },
    {
      name: 'ferry_script_run_peak_memory_bytes', help: 'Peak isolate heap of finished runs, by kind, provider and script.', type: 'histogram',
      samples: perScript.map((r) => histogramFrom(r, labels(r), PEAK_MEMORY_BUCKETS, 'm', 'measured', 'peak_sum')),
    },
    {
      name: 'ferry_runs_finished_total', help: 'Finished runs by kind and outcome: status, and for failures the error kind (script, sdk, limit, internal).', type: 'counter',
      samples: outcomes.map((r) => ({ labels: { kind: r.kind, status: r.status, error_kind: r.error_kind }, value: Number(r.runs) })),
    },
  ];
}
