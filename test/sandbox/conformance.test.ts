/**
 * The sandbox conformance suite: every hostile case (hostile-cases.ts) and every guarantee below
 * runs against every execution mode of the runtime (harness.ts EXECUTION_MODES). After each case
 * a healthy script runs on the same runtime: the worker carries on through all of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime, type RunJob, type RunResult, type WorkerRuntime } from '../../runtime/index.ts';
import { job, recordingBridge } from '../runtime/helpers.ts';
import { actionScript, bundled, EXECUTION_MODES, httpProxy, MiB, startProvider, syncScript, type Provider } from './harness.ts';
import { CAPS_CASES, ESCAPES, LEFTOVERS, LIMITS, WAY_OUT, ALL_HOSTILE, type CaseRun, type SandboxCase } from './hostile-cases.ts';
import { CAPS } from '../../runtime/index.ts';

const ENV = 'env-a';
const HEALTHY = syncScript(`ctx.log('still fine'); await new Promise((r) => setTimeout(r, 50)); await ctx.batchSave([{ id: 'h' }], 'A');`);

it('has at least 20 hostile scripts', () => {
  expect(ALL_HOSTILE.length).toBeGreaterThanOrEqual(20);
});

describe.each(EXECUTION_MODES)('sandbox conformance: $name', (mode) => {
  let runtime: WorkerRuntime;
  let provider: Provider;

  beforeAll(async () => {
    runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }), isolates: mode.isolates });
    provider = await startProvider(CAPS.proxyResponseBytes + 1024);
  });
  afterAll(async () => {
    await runtime?.close();
    await provider?.close();
  });

  function jobFor(code: string, overrides: Partial<RunJob> = {}): RunJob {
    const base = job(code, { environmentId: ENV, ...overrides });
    return { ...base, context: { ...base.context, connection: { ...base.context.connection, connection_config: { providerUrl: provider.url } } } };
  }

  async function expectHealthy(): Promise<void> {
    const recorded = recordingBridge();
    const result = await runtime.run(jobFor(await bundled(HEALTHY)), recorded.bridge);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(result.logs.map((l) => l.message)).toEqual(['still fine']);
    expect(recorded.batches).toHaveLength(1);
  }

  async function runCase(c: SandboxCase): Promise<void> {
    const code = await bundled(c.source);
    const runs: CaseRun[] = [];
    for (let index = 0; index < (c.runs ?? 2); index++) {
      const recorded = recordingBridge(httpProxy(provider));
      const limits = { memoryMb: 64, wallTimeMs: 10_000, cpuTimeMs: 5_000, ...c.limits };
      const result = await runtime.run(jobFor(code, { kind: c.kind ?? 'sync', input: c.input, limits }), recorded.bridge);
      runs.push({ result, recorded, provider, index });
    }
    // The worker goes on; and what a run left behind has had a whole other run to show up.
    await expectHealthy();
    for (const run of runs) c.check(run);
    const [first, second] = runs;
    if (mode.isolates === 'warm' && first?.result.ok && second) expect(second.result.usage.warmStart).toBe(true);
    if (mode.isolates === 'fresh') for (const run of runs) expect(run.result.usage.warmStart).toBe(false);
  }

  describe('isolation: no host object is reachable', () => {
    it.each(ESCAPES.map((c) => [c.name, c] as const))('%s', async (_, c) => runCase(c));
  });

  describe('the proxied fetch is the only way out', () => {
    it.each(WAY_OUT.map((c) => [c.name, c] as const))('%s', async (_, c) => runCase(c));
  });

  describe('every value crossing the bridge is copied, validated and capped', () => {
    it.each(CAPS_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => runCase(c));
  });

  describe('after exec returns, what the script left behind is refused', () => {
    it.each(LEFTOVERS.map((c) => [c.name, c] as const))('%s', async (_, c) => runCase(c));

    it('runs timers with normal semantics: order, arguments, clearTimeout, setInterval, clearInterval', async () => {
      const code = await bundled(syncScript(`
        const order = [];
        await new Promise((done) => {
          setTimeout(() => order.push('t30'), 30);
          setTimeout((x) => order.push('t10:' + x), 10, 'arg');
          clearTimeout(setTimeout(() => order.push('cancelled'), 5));
          let ticks = 0;
          const iv = setInterval(() => { ticks++; order.push('tick' + ticks); if (ticks === 3) { clearInterval(iv); setTimeout(done, 40); } }, 5);
        });
        ctx.log(order.join(','));
      `));
      const result = await runtime.run(jobFor(code), recordingBridge().bridge);
      const order = result.logs[0]?.message.split(',') ?? [];
      expect(order).not.toContain('cancelled');
      expect(order.filter((o) => o.startsWith('tick'))).toEqual(['tick1', 'tick2', 'tick3']);
      expect(order.indexOf('t10:arg')).toBeLessThan(order.indexOf('t30'));
    });

    it('fails the run when a timer callback throws', async () => {
      const code = await bundled(syncScript(`setTimeout(() => { throw new Error('late boom'); }, 5); await new Promise((r) => setTimeout(r, 2000));`));
      const result = await runtime.run(jobFor(code), recordingBridge().bridge);
      expect(result).toMatchObject({ ok: false, error: { kind: 'script', code: 'SCRIPT_ERROR', message: 'late boom' } });
    });
  });

  describe('limits end the run with a typed error; the worker goes on', () => {
    it.each(LIMITS.map((c) => [c.name, c] as const))('%s', async (_, c) => runCase(c));

    it('a worker process that dies mid-run is replaced; its run fails with the cause and keeps its logs and sampled heap', async () => {
      const code = await bundled(syncScript(`
        const keep = []; for (let i = 0; i < 40; i++) keep.push(new Array(100000).fill(i));
        await new Promise((r) => setTimeout(r, 100));
        ctx.log('before', keep.length); await ctx.get({ endpoint: '/hang' }); ctx.log('never');`));
      const [pid] = runtime.workerPids();
      const recorded = recordingBridge(() => {
        process.kill(pid!, 'SIGKILL');
        return new Promise(() => {});
      });
      const result = await runtime.run(jobFor(code, { limits: { memoryMb: 128, wallTimeMs: 10_000, cpuTimeMs: 5_000 } }), recorded.bridge);
      expect(result).toMatchObject({ ok: false, error: { kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining('SIGKILL') } });
      expect(result.logs.map((l) => l.message)).toEqual(['before 40']);
      // Sampled while the run was alive: the run never reached its end to be measured there.
      expect(result.usage.peakHeapBytes).toBeGreaterThan(20 * MiB);
      expect(result.usage.proxyCalls).toBe(1);
      await expectHealthy();
      expect(runtime.workerPids()).not.toContain(pid);
    });
  });

  describe('what a run is given or sends that no process can read fails that run alone', () => {
    it("an input V8 will not serialise fails with INVALID_INPUT before a worker takes it; the worker's slot stays free", async () => {
      let input: unknown = 1;
      for (let i = 0; i < 100_000; i++) input = { b: input };
      const code = await bundled(actionScript(`return { got: typeof input };`));
      const result = await runtime.run(jobFor(code, { kind: 'action', input }), recordingBridge().bridge);
      expect(result).toMatchObject({ ok: false, error: { kind: 'sdk', code: 'INVALID_INPUT', message: expect.stringContaining('could not be sent') } });
      await expectHealthy();
      const shallow = await runtime.run(jobFor(code, { kind: 'action', input: { b: { b: 1 } } }), recordingBridge().bridge);
      expect(shallow).toMatchObject({ ok: true, output: { got: 'object' } });
    });
  });

  describe('warm isolates are never shared between environments or script versions', () => {
    it('reuses an isolate only for the same environment and bundle, and never after a stopped run', async () => {
      // A runtime of its own: which isolates are warm must not depend on earlier cases, or on an
      // earlier attempt of this one (a retry would otherwise find its first isolate warm).
      const own = createRuntime({ workers: 1, logger: pino({ level: 'silent' }), isolates: mode.isolates });
      try {
        const code = await bundled(syncScript(`ctx.log('v1');`));
        const other = await bundled(syncScript(`ctx.log('v2');`));
        const run = async (c: string, environmentId: string, limits?: RunJob['limits']) =>
          own.run(jobFor(c, { environmentId, ...(limits ? { limits } : {}) }), recordingBridge().bridge);
        const warm = async (c: string, environmentId: string, limits?: RunJob['limits']) => (await run(c, environmentId, limits)).usage.warmStart;
        const starts = [
          await warm(code, 'env-x'),
          await warm(code, 'env-x'),
          await warm(code, 'env-y'),
          await warm(other, 'env-x'),
          await warm(code, 'env-x'),
        ];
        const reuse = mode.isolates === 'warm';
        expect(starts).toEqual([false, reuse, false, false, reuse]);

        // CPU to spare, so a loaded machine never stops these runs (a stopped run's isolate is not kept).
        const limits = { memoryMb: 64, wallTimeMs: 10_000, cpuTimeMs: 1_000 };
        const quick = await bundled(syncScript(`ctx.log('ok');`));
        expect((await run(quick, 'env-x', limits)).usage.warmStart).toBe(false);
        const again = await run(quick, 'env-x', limits);
        expect(again.ok, JSON.stringify(again)).toBe(true);
        expect(again.usage.warmStart).toBe(reuse);
        const stopped = await bundled(syncScript(`for (;;) {}`));
        expect(await run(stopped, 'env-x', limits)).toMatchObject({ ok: false, error: { code: 'CPU' } });
        expect(await warm(stopped, 'env-x', limits)).toBe(false);
      } finally {
        await own.close();
      }
    });

    it('a global, a prototype or zod changed by a run is seen by no later run, in the same environment or another', async () => {
      const own = createRuntime({ workers: 1, logger: pino({ level: 'silent' }), isolates: mode.isolates });
      try {
        const code = await bundled(syncScript(`
          ctx.log(JSON.stringify({ global: globalThis.mark ?? null, proto: ({}).mark ?? null, zod: z.mark ?? null, string: z.string().safeParse('x').success }));
          globalThis.mark = 'run ' + ctx.connectionId;
          Object.prototype.mark = 'polluted';
          z.mark = 'changed';
          Object.getPrototypeOf(z.string()).safeParse = () => ({ success: false });
        `));
        const seen: unknown[] = [];
        for (const environmentId of ['env-x', 'env-x', 'env-y', 'env-x']) {
          const result = await own.run(jobFor(code, { environmentId }), recordingBridge().bridge);
          expect(result.ok, JSON.stringify(result)).toBe(true);
          seen.push(JSON.parse(result.logs[0]!.message));
        }
        const clean = { global: null, proto: null, zod: null, string: true };
        expect(seen).toEqual([clean, clean, clean, clean]);
      } finally {
        await own.close();
      }
    });
  });

  describe('observability per run', () => {
    it('captures log() and console.* with level and time, streamed to the host as they come', async () => {
      const code = await bundled(syncScript(`
        ctx.log('plain'); ctx.log('warned', { level: 'warn' }); console.error('bad', { n: 1 }); console.debug('detail'); console.info('info');
        throw new Error('after logging');`));
      const recorded = recordingBridge();
      const before = Date.now();
      const result: RunResult = await runtime.run(jobFor(code), recorded.bridge);
      expect(result.ok).toBe(false);
      const logs = result.logs.map((l) => [l.level, l.message]);
      expect(logs).toEqual([['info', 'plain'], ['warn', 'warned'], ['error', 'bad {"n":1}'], ['debug', 'detail'], ['info', 'info']]);
      expect(recorded.streamedLogs).toEqual(result.logs);
      for (const log of result.logs) expect(Date.parse(log.at)).toBeGreaterThanOrEqual(before - 1000);
    });

    it('reports wall and CPU time, peak heap, bridge bytes and proxy calls', async () => {
      const code = await bundled(syncScript(`
        const keep = []; for (let i = 0; i < 40; i++) keep.push(new Array(100000).fill(i));
        let spin = 0; for (let i = 0; i < 2e6; i++) spin += i;
        for (let i = 0; i < 3; i++) await ctx.get({ endpoint: '/hello' });
        await ctx.batchSave([{ id: 'u1', pad: 'p'.repeat(50000) }], 'A');
        ctx.log(keep.length, spin > 0);`));
      const result = await runtime.run(jobFor(code, { limits: { memoryMb: 128, wallTimeMs: 10_000, cpuTimeMs: 5_000 } }), recordingBridge(httpProxy(provider)).bridge);
      expect(result.ok).toBe(true);
      expect(result.usage.wallMs).toBeGreaterThan(0);
      expect(result.usage.cpuMs).toBeGreaterThan(0);
      expect(result.usage.cpuMs).toBeLessThanOrEqual(result.usage.wallMs + 1);
      expect(result.usage.peakHeapBytes).toBeGreaterThan(20 * MiB);
      expect(result.usage.proxyCalls).toBe(3);
      expect(result.usage.bridgeBytes).toBeGreaterThan(50_000);
    });

    it('reports the peak of a synchronous stretch that V8 collects before the isolate is next idle', async () => {
      // ~28 MB held without an await, then dropped; the churn after it forces V8 to collect it
      // (the limit is 40 MB) before the run's end, and no idle moment lets a timed sample in.
      const code = await bundled(syncScript(`
        let keep = []; for (let i = 0; i < 35; i++) keep.push(new Array(100000).fill(i));
        ctx.log(String(keep.length)); keep = null;
        let sum = 0; for (let i = 0; i < 200; i++) sum += new Array(100000).fill(i).length;
        ctx.log(String(sum));`));
      for (let i = 0; i < 3; i++) {
        const result = await runtime.run(jobFor(code, { limits: { memoryMb: 40, wallTimeMs: 10_000, cpuTimeMs: 5_000 } }), recordingBridge().bridge);
        expect(result.ok, JSON.stringify(result)).toBe(true);
        expect(result.usage.peakHeapBytes).toBeGreaterThan(25 * MiB);
      }
    });

    it('collects a warm isolate between runs without giving it up: runs back to back all start warm', async () => {
      // Each run leaves its context (~1 MB from the zod snapshot) as garbage, so a dozen runs
      // back to back go through several collections (isolates.ts: past 4 MiB of garbage); a
      // collection that failed would retire the isolate, and the next run would start cold.
      const own = createRuntime({ workers: 1, logger: pino({ level: 'silent' }), isolates: mode.isolates });
      try {
        const code = await bundled(syncScript(`ctx.log(String(z.object({ n: z.number() }).parse({ n: 1 }).n));`));
        const results: RunResult[] = [];
        for (let i = 0; i < 12; i++) results.push(await own.run(jobFor(code), recordingBridge().bridge));
        for (const result of results) expect(result.logs.map((l) => l.message), JSON.stringify(result)).toEqual(['1']);
        expect(results.map((r) => r.usage.warmStart)).toEqual(results.map((_, i) => mode.isolates === 'warm' && i > 0));
      } finally {
        await own.close();
      }
    });

    it("reports each run's own peak heap when runs follow at once: the contexts earlier runs left are not counted", async () => {
      // Each run's context (~1 MB from the zod snapshot) is garbage once it ends, and a warm
      // isolate kept busy is collected only every few runs: the peaks must not climb with it.
      const code = await bundled(syncScript(`ctx.log(String(z.object({ n: z.number() }).parse({ n: 1 }).n));`));
      const peaks: number[] = [];
      for (let i = 0; i < 14; i++) {
        const result = await runtime.run(jobFor(code), recordingBridge().bridge);
        expect(result.ok, JSON.stringify(result)).toBe(true);
        peaks.push(result.usage.peakHeapBytes);
      }
      const later = peaks.slice(2);
      expect(Math.min(...later)).toBeGreaterThan(MiB);
      expect(Math.max(...later) - Math.min(...later), peaks.map((p) => (p / MiB).toFixed(2)).join(' ')).toBeLessThan(1.5 * MiB);
    });

    it("reports each run's own peak heap: the garbage a previous run left is not counted", async () => {
      // One bundle (so one warm isolate): a full run keeps ~40 MB until it returns, which is then
      // garbage in the old generation; the next, incremental run allocates next to nothing.
      const code = await bundled(syncScript(`
        if (ctx.lastSyncDate === null) {
          const keep = []; for (let i = 0; i < 50; i++) keep.push(new Array(100000).fill(i));
          ctx.log(String(keep.length));
        }`));
      const limits = { memoryMb: 128, wallTimeMs: 10_000, cpuTimeMs: 5_000 };
      const heavy = await runtime.run(jobFor(code, { limits }), recordingBridge().bridge);
      expect(heavy.usage.peakHeapBytes).toBeGreaterThan(30 * MiB);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const base = jobFor(code, { limits });
      const light = await runtime.run({ ...base, context: { ...base.context, lastSyncDate: new Date().toISOString(), isFullRun: false } }, recordingBridge().bridge);
      expect(light.ok).toBe(true);
      expect(light.usage.warmStart).toBe(mode.isolates === 'warm');
      expect(light.usage.peakHeapBytes).toBeLessThan(8 * MiB);
    });
  });
});
