/**
 * Run start-up benchmark: the time from "start a run" (runtime.run called in the host process) to
 * the first line of `exec` (which makes a bridge call the host timestamps) for a ~50 KB bundle,
 *   fresh   a new isolate per run (compile, from the worker's code cache, and evaluate the bundle)
 *   cold    fresh, with a bundle the worker has never seen each run (IPC transfer, no code cache)
 *   warm    a warm isolate per (environment, bundle) with a fresh context per run
 *   real    fresh, with a real script's bundle (the repository's scripts/, and the Nango corpus
 *           in test/corpus/scripts when present) never seen before: the start a deploy's first
 *           run pays
 * all through the real worker pool (IPC to the worker child and back included), beside two
 * baselines measured in the same run:
 *   node:vm   a new vm context + evaluating the same bundle in this process (not a boundary)
 *   fork      child_process.fork of a bare Node script until its first message
 * It first states the real scripts' bundle sizes: zod and the SDK are provided by the isolate,
 * so a bundle carries only the script's own code (target: a typical script ≤ 60 KB).
 * Run: npm run bench -- runtime   (BENCH_RUNS, default 60)
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import vm from 'node:vm';
import { pino } from 'pino';
import { bundleScript, discoverScripts } from '../../cli/bundle.ts';
import { createRuntime, type HostBridge, type IsolateMode, type RunJob } from '../../runtime/index.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const WARMUP = 5;
const TARGET_BYTES = 50 * 1024;
const REPO = join(import.meta.dirname, '../..');
const TYPICAL_TARGET_KB = 60;

/** Every real script's bundle: the repository's own scripts and, when present, the Nango corpus. */
async function realBundles(): Promise<Array<{ name: string; bytes: number; code: string }>> {
  const bundles = [];
  for (const dir of [join(REPO, 'scripts'), join(REPO, 'test/corpus/scripts')].filter((d) => existsSync(d))) {
    for (const script of await discoverScripts(dir)) {
      const bundle = await bundleScript(script.entryPath).catch(() => null);
      if (bundle) bundles.push({ name: relative(REPO, script.entryPath), bytes: bundle.bytes, code: bundle.code });
    }
  }
  return bundles.sort((a, b) => a.bytes - b.bytes);
}

/** A sync whose bundle is ~50 KB of real code (lookup tables and small functions, as API clients have). */
async function buildBundle(dir: string): Promise<string> {
  const helpers: string[] = [];
  for (let i = 0; helpers.join("\n").length < TARGET_BYTES * 1.15; i++) {
    helpers.push(`export function mapField${i}(record: Record<string, unknown>) { const value = record['field_${i}']; return typeof value === 'string' ? value.trim().toLowerCase() + '-${i}' : { id: ${i}, value, tags: ['a${i}', 'b${i}'] }; }`);
  }
  await writeFile(join(dir, 'helpers.ts'), helpers.join('\n'));
  await writeFile(join(dir, 'script.ts'), `
    import { createSync } from 'ferry/sdk';
    import * as helpers from './helpers.ts';
    const mappers = Object.values(helpers);
    export default createSync({
      description: 'start-up bench', frequency: 'every hour', models: { A: { safeParse: (v: unknown) => ({ success: true, data: v }) } as any },
      exec: async (ctx) => { await ctx.getMetadata(); ctx.log(String(mappers.length)); },
    });
  `);
  return (await bundleScript(join(dir, 'script.ts'))).code;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function figure(name: string, samples: number[], baseline?: number): string {
  const p50 = percentile(samples, 50);
  const ratio = baseline ? `  (${(baseline / p50).toFixed(1)}× faster than fork)` : '';
  return `${name.padEnd(44)} p50 ${p50.toFixed(2).padStart(6)} ms   p90 ${percentile(samples, 90).toFixed(2).padStart(6)} ms${ratio}`;
}

/** `cold`: every run has a bundle the worker has never seen (sent over IPC, compiled without a code cache). */
async function timeRuntime(mode: IsolateMode, code: string, cold = false, real = false): Promise<number[]> {
  const runtime = createRuntime({ workers: 1, logger: pino({ level: 'warn' }), isolates: mode });
  let firstLineAt = 0;
  // The script's first round trip to the host marks its first line of exec (logs are sent in
  // batches, later, so they do not count).
  const mark = () => {
    firstLineAt ||= performance.now();
  };
  const bridge: HostBridge = {
    saveRecords: async () => {
      mark();
      return { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
    },
    proxy: async () => {
      mark();
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    },
    log: () => {},
    getMetadata: async () => {
      mark();
      return {};
    },
    setMetadata: async () => {},
    saveCheckpoint: async () => {},
  };
  const job: RunJob = {
    runId: 'bench', environmentId: 'env-bench', code, kind: 'sync',
    limits: { memoryMb: 128, wallTimeMs: 10_000, cpuTimeMs: 5_000 },
    context: { lastSyncDate: null, isFullRun: true, connection: { connection_id: 'c', provider: 'p', connection_config: {}, metadata: null }, checkpoint: null },
  };
  const samples: number[] = [];
  try {
    for (let i = 0; i < WARMUP + RUNS; i++) {
      firstLineAt = 0;
      const startedAt = performance.now();
      const result = await runtime.run(cold ? { ...job, code: `${code}\n// version ${i}` } : job, bridge);
      // A real script may fail on the bench's empty answers after its first call: only the start is timed.
      if (!result.ok && !real) throw new Error(`bench run failed: ${JSON.stringify(result.error)}`);
      if (firstLineAt === 0) throw new Error('the script never called the host');
      if (i >= WARMUP) samples.push(firstLineAt - startedAt);
    }
  } finally {
    await runtime.close();
  }
  return samples;
}

async function timeNodeVm(code: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    let firstLineAt = 0;
    const startedAt = performance.now();
    // The bundle asks the isolate for the SDK; here a stand-in that returns the definition.
    const context = vm.createContext({ __ferry_require: () => ({ createSync: (definition: unknown) => definition }) });
    new vm.Script(code, { filename: 'script.js' }).runInContext(context);
    const definition = (context as { __ferry_module: { default: { exec(ctx: unknown): Promise<void> } } }).__ferry_module.default;
    await definition.exec({ getMetadata: async () => { firstLineAt = performance.now(); }, log: () => {} });
    if (i >= WARMUP) samples.push(firstLineAt - startedAt);
  }
  return samples;
}

async function timeFork(dir: string): Promise<number[]> {
  const child = join(dir, 'child.mjs');
  await writeFile(child, `process.send('up', () => process.disconnect());`);
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + Math.min(RUNS, 30); i++) {
    const startedAt = performance.now();
    await new Promise<void>((resolve, reject) => {
      const proc = fork(child, [], { stdio: 'ignore' });
      proc.once('message', () => {
        if (i >= WARMUP) samples.push(performance.now() - startedAt);
        resolve();
      });
      proc.once('error', reject);
    });
  }
  return samples;
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-runtime-'));
try {
  const real = await realBundles();
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const median = real[Math.floor(real.length / 2)]!;
  const largest = real.at(-1)!;
  process.stdout.write(`real script bundles (zod and the SDK come from the isolate): ${real.length} scripts, median ${kb(median.bytes)}, largest ${kb(largest.bytes)} (${largest.name}), smallest ${kb(real[0]!.bytes)}   target typical ≤ ${TYPICAL_TARGET_KB} KB\n`);
  for (const b of real) process.stdout.write(`  ${kb(b.bytes).padStart(9)}  ${b.name}\n`);
  const code = await buildBundle(dir);
  process.stdout.write(`synthetic bundle: ${kb(Buffer.byteLength(code))}; ${RUNS} runs each after ${WARMUP} warm-up runs\n`);
  const forkSamples = await timeFork(dir);
  const forkP50 = percentile(forkSamples, 50);
  const vmSamples = await timeNodeVm(code);
  const cold = await timeRuntime('fresh', code, true);
  const fresh = await timeRuntime('fresh', code);
  const warm = await timeRuntime('warm', code);
  // Timed as a sync (its first host call marks the start): the largest sync, as actions are run otherwise.
  const timed = real.filter((b) => b.name.includes('/syncs/')).at(-1) ?? largest;
  const realCold = await timeRuntime('fresh', timed.code, true, true);
  const realFresh = await timeRuntime('fresh', timed.code, false, true);
  const realWarm = await timeRuntime('warm', timed.code, false, true);
  process.stdout.write('start a run → first line of exec\n');
  process.stdout.write(`${figure(`ferry fresh isolate, never-seen real bundle`, realCold, forkP50)}   (${timed.name}, ${kb(timed.bytes)})\n`);
  process.stdout.write(`${figure(`ferry fresh isolate, real bundle seen before`, realFresh, forkP50)}\n`);
  process.stdout.write(`${figure(`ferry warm isolate, real bundle`, realWarm, forkP50)}\n`);
  process.stdout.write(`${figure('ferry fresh isolate, new bundle (no cache)', cold, forkP50)}\n`);
  process.stdout.write(`${figure('ferry fresh isolate (via worker pool)', fresh, forkP50)}   target p50 ≤ 8 ms\n`);
  process.stdout.write(`${figure('ferry warm isolate, fresh context (via pool)', warm, forkP50)}   target p50 ≤ 3 ms, ≥ 10× fork\n`);
  process.stdout.write(`${figure('baseline node:vm context (no boundary)', vmSamples, forkP50)}\n`);
  process.stdout.write(`${figure('baseline child_process.fork → first message', forkSamples)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
