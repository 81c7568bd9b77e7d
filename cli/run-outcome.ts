/**
 * How a followed run ended (`ferry logs --follow`, `ferry trigger --follow`): its status, its
 * changes per model, wall/CPU time and peak memory, warnings, and the error if it failed.
 */
import type { z } from 'zod';
import { formatLocation } from '@ferry/runtime/contract';
import type { RunSchema } from './commands/runs.ts';

type Run = z.infer<typeof RunSchema>;

const seconds = (ms: number | null | undefined) => (ms == null ? '?' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
const mb = (bytes: number | null | undefined) => (bytes == null ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
const changes = (c: { added?: number | null; updated?: number | null; deleted?: number | null }) => `${c.added ?? 0} added, ${c.updated ?? 0} updated, ${c.deleted ?? 0} deleted`;

/** The outcome as lines for a person. */
export function formatOutcome(run: Run): string[] {
  const usage = run.usage ? ` in ${seconds(run.usage.wall_ms)} (cpu ${seconds(run.usage.cpu_ms)}, peak heap ${mb(run.usage.peak_heap_bytes)})` : '';
  const lines = [`run ${run.id} (${run.sync}) ${run.status}${usage}`];
  const perModel = Object.entries(run.model_counts ?? {});
  const width = Math.max(5, ...perModel.map(([model]) => model.length));
  for (const [model, c] of perModel) lines.push(`  ${model.padEnd(width)}  ${changes(c)}`);
  const counts = run.counts ?? {};
  const extra = [counts['unchanged'] ? `${counts['unchanged']} unchanged` : '', counts['rejected'] ? `${counts['rejected']} rejected (ferry runs shows them: GET /runs/${run.id}/rejected)` : ''].filter(Boolean).join(', ');
  if (perModel.length !== 1 || extra) lines.push(`  ${'total'.padEnd(width)}  ${changes(counts)}${extra ? `; ${extra}` : ''}`);
  for (const w of run.warnings ?? []) lines.push(`  warning ${w.code}: ${w.message}`);
  if (run.error) {
    const where = run.error.location ? ` at ${formatLocation(run.error.location)}` : '';
    lines.push(`  error ${run.error.code ?? 'ERROR'}: ${run.error.message ?? ''}${where}`);
  }
  return lines;
}

/** The outcome as the last JSON line of a follow. */
export function outcomeEvent(run: Run) {
  return {
    type: 'run', id: run.id, status: run.status, error: run.error ?? null,
    counts: run.counts ?? null, model_counts: run.model_counts ?? null, usage: run.usage ?? null, warnings: run.warnings ?? [],
  };
}
