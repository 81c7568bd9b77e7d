import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRuntime } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from './helpers.ts';

const runtime = createRuntime({ workers: 1, logger: pino({ level: 'silent' }) });
afterAll(() => runtime.close());

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

describe('sync runs', () => {
  let code: string;
  beforeAll(async () => {
    code = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      const Contact = z.object({ id: z.string(), email: z.string().email(), age: z.number().optional() });
      export default createSync({
        description: 'contacts', frequency: 'every hour', models: { Contact },
        exec: async (ctx) => {
          await ctx.batchSave([
            { id: 'c1', email: 'a@example.com', age: 3 },
            { id: 'c2', email: 'not-an-email' },
            { email: 'no-id@example.com' },
            { id: 'c3', email: 'b@example.com' },
          ], 'Contact');
          await ctx.batchUpdate([{ id: 'c1', age: 4 }, { id: 'c3', age: 'old' }], 'Contact');
          await ctx.batchDelete([{ id: 'c2' }, { id: 7 }], 'Contact');
          await ctx.saveCheckpoint({ page: 2 });
          ctx.log('checkpoint is', await ctx.getCheckpoint());
          await ctx.updateMetadata({ seen: 3 });
          let unknown = 'none';
          try { await ctx.batchSave([{ id: 'x' }], 'Deal'); } catch (e) { unknown = e.message; }
          ctx.log(unknown, { level: 'warn' });
          ctx.log('full?', ctx.isFullRun, ctx.lastSyncDate instanceof Date ? ctx.lastSyncDate.toISOString() : ctx.lastSyncDate);
          console.error('bad thing');
          console.debug('detail');
        },
      });
    `);
  });

  it('validates records in the isolate and sends valid ones with their hashes, rejected ones with reasons', async () => {
    const { bridge, batches } = recordingBridge();
    const result = await runtime.run(job(code), bridge);
    expect(result.ok).toBe(true);

    const [save, update, del] = batches;
    expect(save?.op).toBe('save');
    expect(save?.model).toBe('Contact');
    expect(save?.records.map((r) => r.id)).toEqual(['c1', 'c3']);
    for (const record of save?.records ?? []) expect(record.hash).toBe(sha1(record.json));
    expect(JSON.parse(save?.records[0]?.json ?? '')).toEqual({ id: 'c1', email: 'a@example.com', age: 3 });
    expect(save?.rejected).toHaveLength(2);
    expect(save?.rejected[0]).toMatchObject({ id: 'c2' });
    expect(save?.rejected[0]?.reason).toMatch(/^email: /);
    expect(save?.rejected[1]).toMatchObject({ id: null, reason: expect.stringMatching(/^id: /) });
    expect(save?.rejectedCount).toBe(2);

    // batchUpdate validates against the partial schema: a missing email is fine, a wrong type is not.
    expect(update?.op).toBe('update');
    expect(update?.records.map((r) => r.id)).toEqual(['c1']);
    expect(update?.rejected[0]).toMatchObject({ id: 'c3', reason: expect.stringMatching(/^age: /) });

    expect(del?.op).toBe('delete');
    expect(del?.records.map((r) => [r.id, JSON.parse(r.json)])).toEqual([['c2', { id: 'c2' }], ['7', { id: 7 }]]);
    expect(result.usage.bridgeBytes).toBeGreaterThan(0);
  });

  it('gives an unknown model a clear error, keeps state calls, and captures logs with levels', async () => {
    const { bridge, checkpoints, metadata, streamedLogs } = recordingBridge();
    const result = await runtime.run(job(code, { context: { lastSyncDate: '2024-01-02T03:04:05.000Z', isFullRun: false, connection: { connection_id: 'c', provider: 'p', connection_config: {}, metadata: null }, checkpoint: null } }), bridge);
    expect(result.ok).toBe(true);
    expect(checkpoints).toEqual([{ page: 2 }]);
    expect(metadata()).toEqual({ seen: 3 });
    const lines = result.logs.map((l) => [l.level, l.message]);
    expect(lines).toEqual([
      ['info', 'checkpoint is {"page":2}'],
      ['warn', expect.stringMatching(/Unknown model "Deal".*Contact/)],
      ['info', 'full? false 2024-01-02T03:04:05.000Z'],
      ['error', 'bad thing'],
      ['debug', 'detail'],
    ]);
    for (const log of result.logs) expect(new Date(log.at).toISOString()).toBe(log.at);
    // The same logs were streamed to the host while the run went on.
    expect(streamedLogs).toEqual(result.logs);
  });

  it('fails the run with UNKNOWN_MODEL (kind sdk) when the script lets that error escape', async () => {
    const bad = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
        exec: async (ctx) => { await ctx.batchSave([{ id: '1' }], 'B'); } });
    `);
    const result = await runtime.run(job(bad), recordingBridge().bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'sdk', code: 'UNKNOWN_MODEL' });
    expect(result.error.message).toContain('"B"');
  });

  it('waits for the host to ack each batch before the script continues (backpressure)', async () => {
    const slow = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
        exec: async (ctx) => { for (let i = 0; i < 3; i++) { await ctx.batchSave([{ id: String(i) }], 'A'); ctx.log('after ' + i); } } });
    `);
    const events: string[] = [];
    const { bridge } = recordingBridge();
    bridge.saveRecords = async (batch) => {
      events.push(`save ${batch.records[0]?.id}`);
      await new Promise((r) => setTimeout(r, 30));
      events.push(`ack ${batch.records[0]?.id}`);
      return { added: 1, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
    };
    bridge.log = (entries) => events.push(...entries.map((e) => e.message));
    const result = await runtime.run(job(slow), bridge);
    expect(result.ok).toBe(true);
    expect(events).toEqual(['save 0', 'ack 0', 'after 0', 'save 1', 'ack 1', 'after 1', 'save 2', 'ack 2', 'after 2']);
  });

  it('turns a host error on saveRecords into a rejected promise in the script', async () => {
    const failing = await bundle(`
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
        exec: async (ctx) => { try { await ctx.batchSave([{ id: '1' }], 'A'); } catch (e) { ctx.log('caught: ' + e.message); throw e; } } });
    `);
    const { bridge } = recordingBridge();
    bridge.saveRecords = async () => {
      throw new Error('database is down');
    };
    const result = await runtime.run(job(failing), bridge);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.logs.map((l) => l.message)).toEqual(['caught: database is down']);
    expect(result.error).toMatchObject({ kind: 'sdk', code: 'BRIDGE_ERROR', message: 'database is down' });
  });
});
