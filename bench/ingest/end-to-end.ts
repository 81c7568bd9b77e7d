/**
 * End to end: one sync in an isolate saving TOTAL records through runtime → HostBridge.saveRecords
 * → RecordStore → Postgres, beside the store-level figure of the same run. Peak RSS is the host
 * process's (the isolate lives in a worker child; its heap peak comes from the run's usage).
 */
import { fileURLToPath } from 'node:url';
import { bundleScript } from '../../cli/bundle.ts';
import type { Sql } from '../../host/db/connect.ts';
import type { Logger } from '../../host/logger.ts';
import { createRecordStore } from '../../host/store/records.ts';
import { createRuntime, type BatchResult, type HostBridge } from '../../runtime/index.ts';

export interface EndToEndFigure {
  ms: number;
  rate: number;
  rssGrowthMb: number;
  saved: BatchResult;
  peakHeapMb: number;
  ok: boolean;
  error?: string;
}

/** With `discard`, saveRecords answers without writing: the runtime's own rate, for comparison. */
export async function runEndToEnd(sql: Sql, logger: Logger, total: number, connectionId: number, discard = false): Promise<EndToEndFigure> {
  const { code } = await bundleScript(fileURLToPath(new URL('./e2e-sync.ts', import.meta.url)));
  const store = createRecordStore({ sql, logger, embedded: false });
  const runtime = createRuntime({ workers: 1, logger });
  const saved: BatchResult = { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  const bridge: HostBridge = {
    async saveRecords(batch) {
      const result = discard
        ? { added: batch.records.length, updated: 0, unchanged: 0, deleted: 0, rejected: batch.rejected.length }
        : await store.saveBatch({ connectionId, batch, runId: 1 });
      for (const key of Object.keys(saved) as Array<keyof BatchResult>) saved[key] += result[key];
      return result;
    },
    async proxy() { return { status: 404, headers: {}, body: '' }; },
    log() {},
    async getMetadata() { return {}; },
    async setMetadata() {},
    async saveCheckpoint() {},
  };
  try {
    const base = process.memoryUsage.rss();
    let peak = base;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 10);
    const started = performance.now();
    const result = await runtime.run({
      runId: 'bench-1',
      code,
      kind: 'sync',
      limits: { memoryMb: 128, wallTimeMs: 30 * 60_000, cpuTimeMs: 30 * 60_000 },
      context: { lastSyncDate: null, isFullRun: true, checkpoint: null, connection: { connection_id: String(connectionId), provider: 'bench', connection_config: { total }, metadata: null } },
    }, bridge);
    const ms = performance.now() - started;
    clearInterval(timer);
    return {
      ms,
      rate: (total / ms) * 1000,
      rssGrowthMb: (Math.max(peak, process.memoryUsage.rss()) - base) / 2 ** 20,
      saved,
      peakHeapMb: result.usage.peakHeapBytes / 2 ** 20,
      ok: result.ok,
      ...(result.ok ? {} : { error: `${result.error.code}: ${result.error.message}` }),
    };
  } finally {
    await runtime.close();
  }
}
