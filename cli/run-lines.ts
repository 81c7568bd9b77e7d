/**
 * `ferry dev`'s run report: one readable line per finished run (sync, action or webhook) of any
 * connection, instead of the host's JSON logs: counts, wall time, peak memory, and for a failure
 * its code, message and where in the script it happened.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { formatLocation } from '@ferry/runtime/contract';
import { RunSchema } from './commands/runs.ts';
import type { HostClient } from './host-client.ts';

type Run = z.infer<typeof RunSchema>;
const ConnectionsSchema = z.object({ connections: z.array(z.looseObject({ connection_id: z.string() })) });
const RunsSchema = z.object({ runs: z.array(RunSchema) });

const mb = (bytes: number | null | undefined) => (bytes == null ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
const seconds = (ms: number | null | undefined) => (ms == null ? '?' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** Where in the script the error was thrown, as the host mapped it through the bundle's source map. */
function locationOf(error: Run['error']): string | null {
  return error?.location ? formatLocation(error.location) : null;
}

export function formatRunLine(run: Run, connectionId: string): string {
  const ok = run.status === 'succeeded';
  const counts = run.counts ?? {};
  const saved = ['added', 'updated', 'deleted'].map((k) => `${counts[k] ?? 0} ${k}`).join(', ');
  const rejected = counts['rejected'] ? `, ${counts['rejected']} rejected` : '';
  const usage = `wall ${seconds(run.usage?.wall_ms)}, peak ${mb(run.usage?.peak_heap_bytes)}`;
  const head = `${ok ? '✓' : '✗'} ${run.kind ?? 'sync'} ${run.sync} on ${connectionId} (run ${run.id}) ${run.status}`;
  if (ok) return `${head}: ${saved}${rejected}; ${usage}`;
  const where = locationOf(run.error);
  const error = run.error ? `${run.error.code ?? 'ERROR'}: ${run.error.message ?? ''}${where ? ` at ${where}` : ''}` : 'no error recorded';
  return `${head}: ${error}; ${saved}${rejected}; ${usage}`;
}

/** Polls the host for runs that finished since it started and hands each to `onRun` once. */
export function watchRuns(client: HostClient, onRun: (run: Run, connectionId: string) => void, options: { intervalMs?: number } = {}): { close(): void } {
  const intervalMs = options.intervalMs ?? 1000;
  const seen = new Set<string>();
  let closed = false;
  let first = true;
  void (async () => {
    while (!closed) {
      try {
        const { connections } = await client.request('GET', '/connections', ConnectionsSchema);
        for (const { connection_id: connectionId } of connections) {
          const { runs } = await client.request('GET', `/runs?connection_id=${encodeURIComponent(connectionId)}&limit=20`, RunsSchema);
          for (const run of [...runs].reverse()) {
            if (run.status === 'running' || run.status === 'queued' || seen.has(run.id)) continue;
            seen.add(run.id);
            // Runs that had finished before dev started are history, not news.
            if (!first) onRun(run, connectionId);
          }
        }
        first = false;
      } catch {
        // The host is starting or stopping: try again at the next tick.
      }
      await sleep(intervalMs);
    }
  })();
  return { close: () => { closed = true; } };
}
