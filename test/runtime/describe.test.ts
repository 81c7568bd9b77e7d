/** describe(): reading a bundle's manifest under tight limits. (Escapes and limits: test/sandbox.) */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime } from '../../runtime/index.ts';
import { bundle } from './helpers.ts';

const runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }) });
afterAll(() => runtime.close());

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
    // 5 s of CPU on a quiet machine; on a loaded one the 15 s wall limit can come first. Either
    // bounds it, and the limit says which.
    expect(described).toMatchObject({ ok: false, error: { kind: 'limit', code: expect.stringMatching(/^(CPU|WALL_TIME)$/) } });
  });
});
