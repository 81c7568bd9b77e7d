/**
 * A key split's `split.partitions` as its own run kind in the real runtime (worker process,
 * isolate): the keys come back as data, checked (distinct, non-empty strings, at most
 * MAX_PARTS, capped in length); anything else, a throw, or a limit fails the run as data. The
 * manifest carries `split: { by: 'keys' }` only: the function stays in the bundle.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime, MAX_PARTITION_KEY_CHARS, MAX_PARTS } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from './helpers.ts';

const runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }) });
afterAll(() => runtime.close());

const keySync = (partitions: string, extra = '') => bundle(`
  import { createSync } from 'ferry/sdk';
  import { z } from 'zod';
  export default createSync({ description: 'by repo', frequency: 'every 1 hour', syncType: 'full', ${extra}
    models: { Issue: z.object({ id: z.string() }) },
    split: { by: 'keys', partitions: ${partitions} },
    exec: async (nango) => { await nango.batchSave([{ id: nango.partition?.key ?? 'none' }], 'Issue'); } });
`);

const listing = async (partitions: string, extra = '') => {
  const recorder = recordingBridge(async (request) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repos: ['api', 'web', 'docs'], asked: request.endpoint }) }));
  const result = await runtime.run(job(await keySync(partitions, extra), { kind: 'partitions' }), recorder.bridge);
  return { result, recorder };
};

describe('split.partitions', () => {
  it('the manifest says split by keys, without the function; deploy-time describe refuses a key split with no function', async () => {
    const described = await runtime.describe(await keySync('async () => ["a"]'));
    expect(described).toMatchObject({ ok: true, manifest: { type: 'sync', split: { by: 'keys' } } });
    expect(described.ok && described.manifest.type === 'sync' && Object.keys(described.manifest.split!)).toEqual(['by']);
    const missing = await runtime.describe(await keySync('undefined as never'));
    expect(missing).toMatchObject({ ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT', message: expect.stringContaining('partitions') } });
  });

  it('runs alone with the proxied provider and returns its keys as data; it cannot write records', async () => {
    const { result, recorder } = await listing(`async (nango) => {
      if (typeof (nango as any).batchSave !== 'undefined' || typeof (nango as any).saveCheckpoint !== 'undefined') throw new Error('a listing may not write');
      const res = await nango.get<{ repos: string[] }>({ endpoint: '/repos' });
      nango.log('listed ' + res.data.repos.length + ' repos of ' + nango.variant);
      return res.data.repos;
    }`);
    expect(result.ok ? null : result.error).toBeNull();
    expect(result).toMatchObject({ ok: true, output: ['api', 'web', 'docs'] });
    expect(recorder.proxied.map((r) => r.endpoint)).toEqual(['/repos']);
    expect(recorder.batches).toHaveLength(0);
    expect(result.logs.map((l) => l.message)).toContain('listed 3 repos of base');
  });

  it('each part gets nango.partition = { key, from: null, to: null }', async () => {
    const recorder = recordingBridge();
    const code = await keySync('async () => ["a"]');
    const result = await runtime.run(job(code, { context: { ...job(code).context, partition: { key: 'web', from: null, to: null } } }), recorder.bridge);
    expect(result.ok).toBe(true);
    expect(recorder.batches.flatMap((b) => b.records.map((r) => r.id))).toEqual(['web']);
  });

  it.each([
    ['not an array', 'async () => "api"', /must return an array of strings/],
    ['a number among the keys', 'async () => ["api", 7]', /keys\[1\]: a partition key is a string/],
    ['an empty key', 'async () => ["api", ""]', /keys\[1\]: a partition key may not be empty/],
    ['a duplicate', 'async () => ["api", "web", "api"]', /keys\[2\]: the key "api" is returned more than once/],
    ['a control character', 'async () => ["a\\nb"]', /no control characters/],
    ['a key too long', `async () => ["x".repeat(${MAX_PARTITION_KEY_CHARS + 1})]`, new RegExp(`at most ${MAX_PARTITION_KEY_CHARS} characters`)],
    ['too many keys', `async () => Array.from({ length: ${MAX_PARTS + 1} }, (_, i) => "k" + i)`, new RegExp(`at most ${MAX_PARTS} keys`)],
  ])('refuses %s with a clear error', async (_what, partitions, message) => {
    const { result } = await listing(partitions);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatchObject({ kind: 'sdk', code: 'INVALID_OUTPUT', message: expect.stringMatching(message) });
  });

  it('an empty list is kept: an account with nothing to split is a pass of zero parts (test/sync/split-keys-empty)', async () => {
    const { result } = await listing('async () => []');
    expect(result).toMatchObject({ ok: true, output: [] });
  });

  it('a huge list is refused by its length before its keys are checked', async () => {
    const { result } = await listing('async () => Array.from({ length: 400_000 }, () => "k")');
    expect(!result.ok && result.error).toMatchObject({ code: 'INVALID_OUTPUT', message: expect.stringContaining(`returned 400000 keys: it may return at most ${MAX_PARTS} keys`) });
  });

  it('a throw comes back as the script\'s error; an endless loop is stopped by the CPU limit', async () => {
    const thrown = await listing('async () => { throw new Error("no repos for you"); }');
    expect(!thrown.result.ok && thrown.result.error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: 'no repos for you' });
    const spin = await runtime.run(job(await keySync('async () => { for (;;) {} }'), { kind: 'partitions', limits: { memoryMb: 64, wallTimeMs: 5_000, cpuTimeMs: 200 } }), recordingBridge().bridge);
    expect(!spin.ok && spin.error).toMatchObject({ kind: 'limit', code: 'CPU' });
  });

  it('a sync without a key split, run as partitions, fails as BAD_SCRIPT', async () => {
    const code = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'plain', frequency: 'every 1 hour', models: { Issue: z.object({ id: z.string() }) }, exec: async () => {} });`);
    const result = await runtime.run(job(code, { kind: 'partitions' }), recordingBridge().bridge);
    expect(!result.ok && result.error).toMatchObject({ kind: 'sdk', code: 'BAD_SCRIPT', message: expect.stringContaining("split is not { by: 'keys'") });
  });
});
