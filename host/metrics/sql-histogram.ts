/** Prometheus histograms counted by Postgres: one `count(*) filter (…)` column per bucket bound. */
import type { HistogramSample, Labels } from './prometheus.ts';

/** SQL select-list items `<prefix>0 … <prefix>N` counting rows with `column` ≤ each bound (in the column's unit). */
export function bucketColumns(column: string, bounds: readonly number[], prefix: string, scale = 1): string {
  return bounds.map((le, i) => `count(*) filter (where ${column} <= ${le * scale})::bigint::text as ${prefix}${i}`).join(', ');
}

/** A histogram sample from a row with bucket columns, a count and a sum (divided by `scale`). */
export function histogramFrom(row: Record<string, string>, labels: Labels, bounds: readonly number[], prefix: string, count: string, sum: string, scale = 1): HistogramSample {
  return {
    labels,
    buckets: bounds.map((le, i) => ({ le, count: Number(row[`${prefix}${i}`]) })),
    count: Number(row[count]),
    sum: Number(row[sum]) / scale,
  };
}
