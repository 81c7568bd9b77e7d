/**
 * What a runtime child spends on one warm no-op sync run of the scheduler bench's script
 * (fixtures/noop, which imports zod: its isolate comes from the prelude snapshot), runs back to
 * back through the real worker pool with one child: child CPU per run (user + system from /proc),
 * this process's (the pool's side) and the wall time per run, and the child's CPU by thread: its
 * main thread (the event loop, the frames, isolated-vm's synchronous calls), the threads that
 * run the isolate's asynchronous work (named like the process) and V8's helpers (V8Worker: GC,
 * compilation). The scheduler burst's children figure, without the queue, the database or the
 * host's other work around it.
 *
 * Run: flock /tmp/ferry-bench.lock npx node bench/scheduler/child-cpu.ts   (BENCH_RUNS=1000, BENCH_GAP_MS=0)
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { bundleScript } from '../../cli/bundle.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, type HostBridge, type RunJob } from '../../runtime/index.ts';
import { childrenOf, snapshot, threadCpu, used } from '../ingest/cpu-time.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 1000);
/** Idle time between runs (ms): in the scheduler burst a child waits ~10 ms for its host's next run. */
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 0);
const WARMUP = 50;
const bundle = await bundleScript(fileURLToPath(new URL('./fixtures/noop/syncs/tick.ts', import.meta.url)));
const runtime = createRuntime({ workers: 1, logger: createLogger({ level: 'warn' }) });
const unused = async (): Promise<never> => { throw new Error('a no-op run calls no host function'); };
const bridge: HostBridge = { saveRecords: unused, proxy: unused, log() {}, getMetadata: async () => ({}), setMetadata: async () => {}, saveCheckpoint: async () => {} };
const job = (i: number): RunJob => ({
  runId: String(i), environmentId: '1', code: bundle.code, kind: 'sync', limits: { memoryMb: 128, wallTimeMs: 60_000, cpuTimeMs: 60_000 },
  context: { lastSyncDate: null, isFullRun: true, connection: { connection_id: 'c1', provider: 'noop', connection_config: {}, metadata: {} }, checkpoint: null },
});
try {
  for (let i = 0; i < WARMUP; i++) {
    const result = await runtime.run(job(i), bridge);
    if (!result.ok) throw new Error(`the no-op run failed: ${JSON.stringify(result.error)}`);
  }
  const children = childrenOf(process.pid);
  const before = { children: snapshot(children), self: snapshot([process.pid]), threads: threadCpu(runtime.workerPids()[0]!, 'main') };
  const startedAt = performance.now();
  for (let i = 0; i < RUNS; i++) {
    await runtime.run(job(i), bridge);
    if (GAP_MS > 0) await new Promise((resolve) => setTimeout(resolve, GAP_MS));
  }
  const wallMs = performance.now() - startedAt;
  const per = (ms: number) => (ms / RUNS).toFixed(2);
  const byThread = [...threadCpu(runtime.workerPids()[0]!, 'main')].map(([name, ms]) => `${name} ${per(ms - (before.threads.get(name) ?? 0))}`).join(', ');
  process.stdout.write(`${RUNS} warm no-op runs: child CPU ${per(used(before.children, children))} ms per run (${byThread}), pool side ${per(used(before.self, [process.pid]))} ms, wall ${per(wallMs - RUNS * GAP_MS)} ms${GAP_MS > 0 ? ` (+ ${GAP_MS} ms apart)` : ''}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
} finally {
  await runtime.close();
}
