/**
 * End to end through a real host: the bench sync is deployed over HTTP and its first run is
 * scheduled, queued, executed in an isolate and written through the host's run bridge and
 * record store, exactly as in production. The rate is records / the run's own wall time as the
 * runs table has it; peak RSS is this process's (the host), the isolate's heap peak comes from
 * the run's usage. `discard` measures the runtime alone (isolate → worker → host, no writes).
 */
import { fileURLToPath } from 'node:url';
import { bundleScript } from '../../cli/bundle.ts';
import { loadConfig } from '../../host/config.ts';
import type { Logger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { createRuntime, type HostBridge } from '../../runtime/index.ts';
import type { Sql } from '../../host/db/connect.ts';
import { cpuMeter, type CpuFigure } from './cpu-time.ts';

export interface EndToEndFigure {
  ms: number;
  rate: number;
  rssGrowthMb: number;
  peakHeapMb: number;
  saved: number;
  cpu: CpuFigure | null;
}

const SCRIPT = fileURLToPath(new URL('./e2e-sync.ts', import.meta.url));
const KEY = 'fsk_bench_ingest_key_0123456789';

function rssSampler() {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 10);
  return () => { clearInterval(timer); return (Math.max(peak, process.memoryUsage.rss()) - base) / 2 ** 20; };
}

export async function runEndToEnd(db: { url: string; sql: Sql }, logger: Logger, total: number): Promise<EndToEndFigure> {
  const databaseUrl = db.url;
  const { code } = await bundleScript(SCRIPT);
  const host = await startFerry(loadConfig({
    DATABASE_URL: databaseUrl, FERRY_PORT: '0', FERRY_SECRET_KEY: KEY, FERRY_RUNTIME_WORKERS: '1',
  }), logger);
  const call = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${host.url}${path}`, { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${await response.text()}`);
    return response.json() as Promise<any>;
  };
  try {
    await call('POST', '/deploy', { scripts: [{ name: 'bench-contacts', provider: 'bench', kind: 'sync', code }] });
    await call('PUT', '/providers/bench', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } });
    const rss = rssSampler();
    const cpu = await cpuMeter(db.sql);
    // A new connection's first run is due at once.
    await call('POST', '/connections', { connection_id: 'bench', provider: 'bench', connection_config: { total } });
    let run: any;
    for (;;) {
      const { runs } = await call('GET', '/runs?connection_id=bench&limit=1', undefined as never).catch(() => ({ runs: [] }));
      run = runs[0];
      if (run && run.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 1000)); // the rate comes from the runs table: polling only costs CPU
    }
    const rssGrowthMb = rss();
    const cpuFigure = await cpu();
    if (run.status !== 'succeeded') throw new Error(`end-to-end run failed: ${JSON.stringify(run.error)}`);
    const ms = Date.parse(run.finished_at) - Date.parse(run.started_at);
    return { ms, rate: (total / ms) * 1000, rssGrowthMb, peakHeapMb: run.usage.peak_heap_bytes / 2 ** 20, saved: run.counts.added, cpu: cpuFigure };
  } finally {
    await host.close();
  }
}

/** The runtime alone: the same sync, a bridge that acknowledges batches without writing them. */
export async function runRuntimeOnly(sql: Sql, logger: Logger, total: number): Promise<EndToEndFigure> {
  const { code } = await bundleScript(SCRIPT);
  const runtime = createRuntime({ workers: 1, logger });
  let saved = 0;
  const bridge: HostBridge = {
    async saveRecords(batch) {
      saved += batch.records.length;
      return { added: batch.records.length, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
    },
    async proxy() { return { status: 404, headers: {}, body: '' }; },
    log() {},
    async getMetadata() { return {}; },
    async setMetadata() {},
    async saveCheckpoint() {},
    async trackDeletes() {},
  };
  try {
    const rss = rssSampler();
    const cpu = await cpuMeter(sql);
    const started = performance.now();
    const result = await runtime.run({
      runId: 'bench-runtime-only', code, kind: 'sync',
      limits: { memoryMb: 128, wallTimeMs: 30 * 60_000, cpuTimeMs: 30 * 60_000 },
      context: { lastSyncDate: null, isFullRun: true, checkpoint: null, connection: { connection_id: 'bench', provider: 'bench', connection_config: { total }, metadata: null } },
    }, bridge);
    const ms = performance.now() - started;
    if (!result.ok) throw new Error(`runtime-only run failed: ${result.error.message}`);
    return { ms, rate: (total / ms) * 1000, rssGrowthMb: rss(), peakHeapMb: result.usage.peakHeapBytes / 2 ** 20, saved, cpu: await cpu() };
  } finally {
    await runtime.close();
  }
}
