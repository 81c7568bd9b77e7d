import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from './helpers.ts';

const runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }) });
afterAll(() => runtime.close());

const syncWith = (body: string) =>
  bundle(`
    import { createSync } from 'ferry/sdk';
    import { z } from 'zod';
    export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
      exec: async (ctx) => { ${body} } });
  `);

const healthy = () => syncWith(`ctx.log('still fine'); await new Promise((r) => setTimeout(r, 5));`);

async function expectHealthyRun(): Promise<void> {
  const result = await runtime.run(job(await healthy()), recordingBridge().bridge);
  expect(result.ok).toBe(true);
  expect(result.logs.map((l) => l.message)).toEqual(['still fine']);
}

describe('limits', () => {
  it('stops a memory blow-up with MEMORY, and the same runtime runs the next script', async () => {
    const code = await syncWith(`ctx.log('allocating'); const keep = []; for (;;) keep.push(new Array(100000).fill(Math.random()));`);
    const result = await runtime.run(job(code, { limits: { memoryMb: 32, wallTimeMs: 20_000, cpuTimeMs: 20_000 } }), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'limit', code: 'MEMORY', limit: 32 });
    expect(result.error.used).toBeGreaterThanOrEqual(32);
    expect(result.logs.map((l) => l.message)).toEqual(['allocating']);
    await expectHealthyRun();
  });

  it('reports WORKER_CRASHED with the logs so far when the child is SIGKILLed, and a replacement serves the next run', async () => {
    const code = await syncWith(`ctx.log('before'); await ctx.get({ endpoint: '/hang' }); ctx.log('never');`);
    const [pid] = runtime.workerPids();
    expect(pid).toBeTypeOf('number');
    const { bridge } = recordingBridge(() => {
      process.kill(pid!, 'SIGKILL');
      return new Promise(() => {});
    });
    const result = await runtime.run(job(code), bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED' });
    expect(result.error.message).toContain('SIGKILL');
    expect(result.logs.map((l) => l.message)).toEqual(['before']);
    await expectHealthyRun();
    expect(runtime.workerPids()).not.toContain(pid);
  });

  it('stops a never-settling promise with WALL_TIME', async () => {
    const code = await syncWith(`await new Promise(() => {});`);
    const result = await runtime.run(job(code, { limits: { memoryMb: 64, wallTimeMs: 300, cpuTimeMs: 5_000 } }), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'limit', code: 'WALL_TIME', limit: 300 });
    expect(result.usage.wallMs).toBeGreaterThanOrEqual(300);
    expect(result.usage.wallMs).toBeLessThan(3_000);
  });

  it('stops a microtask loop (for(;;) await null) with the lower of its limits', async () => {
    const code = await syncWith(`for (;;) await null;`);
    const result = await runtime.run(job(code, { limits: { memoryMb: 64, wallTimeMs: 400, cpuTimeMs: 10_000 } }), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('WALL_TIME');
  });

  it('stops while(true){} with CPU when the CPU limit is the lower one', async () => {
    const code = await syncWith(`while (true) {}`);
    const result = await runtime.run(job(code, { limits: { memoryMb: 64, wallTimeMs: 10_000, cpuTimeMs: 300 } }), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'limit', code: 'CPU', limit: 300 });
    expect(result.usage.cpuMs).toBeGreaterThanOrEqual(300);
    await expectHealthyRun();
  });

  it('stops while(true){} with WALL_TIME when the wall limit is the lower one', async () => {
    const code = await syncWith(`while (true) {}`);
    const result = await runtime.run(job(code, { limits: { memoryMb: 64, wallTimeMs: 300, cpuTimeMs: 10_000 } }), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'limit', code: 'WALL_TIME' });
  });

  it('stops a top-level infinite loop too', async () => {
    const code = (await healthy()) + '\nwhile (true) {}';
    const result = await runtime.run(job(code, { limits: { memoryMb: 64, wallTimeMs: 10_000, cpuTimeMs: 200 } }), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('CPU');
  });

  it('samples peak heap, which grows with what the script keeps alive', async () => {
    const small = await syncWith(`const keep = new Array(10).fill('x'); await new Promise((r) => setTimeout(r, 50)); ctx.log(String(keep.length));`);
    const big = await syncWith(`const keep = []; for (let i = 0; i < 200; i++) keep.push(new Array(20000).fill(i)); await new Promise((r) => setTimeout(r, 50)); ctx.log(String(keep.length));`);
    const limits = { memoryMb: 128, wallTimeMs: 10_000, cpuTimeMs: 5_000 };
    const a = await runtime.run(job(small, { limits }), recordingBridge().bridge);
    const b = await runtime.run(job(big, { limits }), recordingBridge().bridge);
    expect(a.ok && b.ok).toBe(true);
    expect(a.usage.peakHeapBytes).toBeGreaterThan(0);
    // 200 arrays × 20,000 small integers ≈ 32 MB of elements.
    expect(b.usage.peakHeapBytes).toBeGreaterThan(a.usage.peakHeapBytes + 20 * 1024 * 1024);
    expect(a.usage.cpuMs).toBeGreaterThan(0);
  });

  it('runs timers with normal semantics: order, clearTimeout, setInterval, clearInterval', async () => {
    const code = await syncWith(`
      const order = [];
      await new Promise((done) => {
        setTimeout(() => order.push('t30'), 30);
        setTimeout((x) => order.push('t10:' + x), 10, 'arg');
        const cancelled = setTimeout(() => order.push('cancelled'), 5);
        clearTimeout(cancelled);
        let ticks = 0;
        const iv = setInterval(() => { ticks++; order.push('tick' + ticks); if (ticks === 3) { clearInterval(iv); setTimeout(done, 40); } }, 5);
      });
      ctx.log(order.join(','));
    `);
    const result = await runtime.run(job(code), recordingBridge().bridge);
    expect(result.ok).toBe(true);
    const order = result.logs[0]?.message.split(',') ?? [];
    expect(order).not.toContain('cancelled');
    expect(order.filter((o) => o.startsWith('tick'))).toEqual(['tick1', 'tick2', 'tick3']);
    expect(order.indexOf('t10:arg')).toBeLessThan(order.indexOf('t30'));
  });

  it('fails the run when a timer callback throws', async () => {
    const code = await syncWith(`setTimeout(() => { throw new Error('late boom'); }, 5); await new Promise((r) => setTimeout(r, 1000));`);
    const result = await runtime.run(job(code), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: 'late boom' });
  });
});
