import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from './helpers.ts';

const runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }) });
afterAll(() => runtime.close());

describe('nothing of the host reaches the script', () => {
  it('finds no process, require, module, Buffer or isolated-vm objects, at top level or in exec', async () => {
    const probe = `(() => {
      const found = {};
      for (const name of ['process', 'require', 'module', 'exports', 'Buffer', 'global', 'ivm', '__ferry_host', 'setImmediate', 'fetch']) {
        try { found[name] = typeof eval(name); } catch { found[name] = 'undefined'; }
      }
      try { found.ctorEscape = typeof ({}).constructor.constructor('return process')(); } catch (e) { found.ctorEscape = 'threw ' + e.name; }
      try { found.fnEscape = typeof globalThis.constructor.constructor('return this.process')(); } catch (e) { found.fnEscape = 'threw'; }
      found.globals = Object.getOwnPropertyNames(globalThis).filter((n) => /ivm|ferry_host|^(Reference|Callback|ExternalCopy|Isolate|Context|send|deliver|hostLog|hostCall|run|describe)$/i.test(n));
      return found;
    })()`;
    const code = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      const atTop = ${probe};
      export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
        exec: async (ctx) => {
          const inExec = ${probe};
          const ctxKeys = Object.keys(ctx).filter((k) => typeof ctx[k] === 'object' && ctx[k] !== null && !(ctx[k] instanceof Date));
          console.log(JSON.stringify({ atTop, inExec, ctxKeys, logSource: String(ctx.log).includes('native') }));
        } });
    `);
    const result = await runtime.run(job(code), recordingBridge().bridge);
    expect(result.ok).toBe(true);
    const seen = JSON.parse(result.logs[0]?.message ?? '{}');
    for (const where of [seen.atTop, seen.inExec]) {
      for (const name of ['process', 'require', 'module', 'exports', 'Buffer', 'global', 'ivm', '__ferry_host', 'setImmediate', 'fetch']) {
        expect(where[name], name).toBe('undefined');
      }
      // `return process` finds no such binding: a ReferenceError, never the host's process.
      expect(where.ctorEscape).toBe('threw ReferenceError');
      expect(where.fnEscape).toBe('undefined');
      expect(where.globals).toEqual([]);
    }
    // The context holds plain values and functions, nothing else.
    expect(seen.ctxKeys).toEqual([]);
    expect(seen.logSource).toBe(false);
  });

  it('cannot reach the host through error stacks or prototype tampering of the bridge', async () => {
    const code = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
        exec: async (ctx) => {
          const leaked = [];
          Object.defineProperty(Object.prototype, 'result', { get() { leaked.push(typeof this); return undefined; }, configurable: true });
          await ctx.batchSave([{ id: '1' }], 'A');
          delete Object.prototype.result;
          let frames = '';
          try { await ctx.get({ endpoint: '/nope' }); } catch (e) { frames = String(e.stack); }
          console.log(JSON.stringify({ leaked, hostFrames: /node:|\\/runtime\\/|worker/.test(frames) }));
        } });
    `);
    const { bridge, batches } = recordingBridge();
    const result = await runtime.run(job(code), bridge);
    expect(result.ok).toBe(true);
    expect(batches).toHaveLength(1);
    expect(JSON.parse(result.logs[0]?.message ?? '{}')).toEqual({ leaked: [], hostFrames: false });
  });
});

describe('describe', () => {
  it('returns a sync manifest with model names without running exec', async () => {
    const code = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'contacts', frequency: 'every 30 minutes', syncType: 'incremental', trackDeletes: true,
        models: { Contact: z.object({ id: z.string() }), Company: z.object({ id: z.string() }) },
        limits: { memoryMb: 256 },
        exec: async () => { while (true) {} } });
    `);
    const described = await runtime.describe(code);
    expect(described).toMatchObject({
      ok: true,
      manifest: { type: 'sync', description: 'contacts', frequency: 'every 30 minutes', syncType: 'incremental', autoStart: true, trackDeletes: true, models: ['Contact', 'Company'], limits: { memoryMb: 256 } },
    });
  });

  it('returns an action manifest, and BAD_SCRIPT for a bundle without a definition or that does not compile', async () => {
    const action = await bundle(`
      import { createAction } from 'ferry/sdk';
      import { z } from 'zod';
      export default createAction({ description: 'make', input: z.object({}), output: z.object({}), exec: async () => ({}) });
    `);
    expect(await runtime.describe(action)).toEqual({ ok: true, manifest: { type: 'action', description: 'make' } });
    expect(await runtime.describe('var __ferry_module = {};')).toMatchObject({ ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT' } });
    expect(await runtime.describe('var x = ;')).toMatchObject({ ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT', message: expect.stringContaining('compile') } });
  });

  it('bounds a hostile top level with tight limits', async () => {
    const described = await runtime.describe('for (;;) {}');
    expect(described).toMatchObject({ ok: false, error: { kind: 'limit', code: 'CPU' } });
  });
});
