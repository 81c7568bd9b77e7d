/**
 * Nothing a script returns can crash the host (issue 11), through a whole host over HTTP:
 * values nested 2,000 deep given to setMetadata, updateMetadata, saveCheckpoint, returned as an
 * action's output, carried as an ActionError's payload or produced by a definition at deploy get
 * a clear error for that one call (the host and its other runs carry on); and NUL bytes and lone
 * surrogates in every kind of script text Postgres stores come back as U+FFFD, with every run
 * settled and no log line lost; a record holding NaN or ±Infinity is rejected alone, with where,
 * and metadata or a checkpoint holding one fails that call.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const DEEP = `const deep = () => { let o: any = 1; for (let i = 0; i < 2000; i++) o = { b: o }; return o; };`;
const ANYTHING = `const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };`;

const DEEP_ACTION = `
import { ActionError, createAction } from 'ferry/sdk';
${DEEP}
${ANYTHING}
export default createAction({
  description: 'hands the host values nested 2,000 deep',
  input: anything,
  output: anything,
  exec: async (nango, input: any) => {
    const attempt = async (call: () => Promise<unknown>) => {
      try { await call(); return 'accepted'; } catch (error: any) { return error.code + ': ' + error.message; }
    };
    if (input.mode === 'calls') {
      return {
        setMetadata: await attempt(() => nango.setMetadata({ d: deep() })),
        updateMetadata: await attempt(() => nango.updateMetadata({ d: deep() })),
        shallow: await attempt(() => nango.setMetadata({ fine: { still: 'fine' } })),
      };
    }
    if (input.mode === 'escape') await nango.updateMetadata({ d: deep() });
    if (input.mode === 'output') return deep();
    if (input.mode === 'payload') throw new ActionError({ type: 'too_deep', message: 'look at my payload', d: deep() });
    return { fine: true };
  },
});`;

const DEEP_CHECKPOINT = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
${DEEP}
export default createSync({
  description: 'saves a checkpoint nested 2,000 deep',
  frequency: 'every day',
  models: { Item: z.object({ id: z.string() }) },
  exec: async (nango) => {
    await nango.saveCheckpoint({ d: deep() });
  },
});`;

// The definition's description getter throws an ActionError whose payload is 2,000 deep.
const DEEP_DEFINITION = `
import { ActionError, createAction } from 'ferry/sdk';
${DEEP}
const definition = createAction({ description: 'x', exec: async () => ({}) });
Object.defineProperty(definition, 'description', { get() { throw new ActionError({ type: 'deep', message: 'deep definition', d: deep() }); } });
export default definition;`;

const BAD_TEXT_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'NUL bytes and lone surrogates in everything it stores',
  frequency: 'every day',
  models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    nango.log('first line');
    nango.log('a NUL \\u0000 here');
    console.warn('a lone \\ud800 surrogate', { and: '\\udc00' });
    nango.log('last line');
    await nango.setMetadata({ note: 'm\\u0000', lone: '\\udc00', ['k\\u0000ey']: 'v' });
    await nango.saveCheckpoint({ at: 'c\\u0000\\ud800' });
    // Ids with a NUL or a lone surrogate are rejected alone: replaced, they would name another record.
    await nango.batchSave([{ id: 'r\\u0000', name: 'x' }, { id: 'r', name: 'n\\u0000\\ud800 and a pair \\ud83d\\ude00' }, { id: 'lone\\ud800', name: 'y' }], 'Item');
    // A failed run keeps its checkpoint (a successful one ends its pass and clears it).
    throw new Error('bad \\u0000 byte \\ud800');
  },
});`;

const BAD_TEXT_ACTION = `
import { ActionError, createAction } from 'ferry/sdk';
${ANYTHING}
export default createAction({
  description: 'NUL bytes and lone surrogates in its errors and output',
  input: anything,
  output: anything,
  exec: async (nango, input: any) => {
    if (input.mode === 'throw') throw new Error('bad \\u0000 byte \\ud800');
    if (input.mode === 'action-error') throw new ActionError({ type: 't\\u0000', message: 'm\\u0000', p: 'p\\ud800' });
    return { out: 'o\\u0000\\udfff' };
  },
});`;

// Ids no compression shrinks (pseudo-random CJK, 3 bytes each in UTF-8): a Postgres btree entry
// cannot hold one much over 2.7 KB, and the store used to fail the batch and every one after it.
const LONG_IDS_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
let seed = 7;
const noise = (chars: number) => Array.from({ length: chars }, () => String.fromCharCode(0x4e00 + ((seed = (seed * 1103515245 + 12345) % 2147483648) % 20000))).join('');
export default createSync({
  description: 'ids too long to index, among ordinary ones',
  frequency: 'every day',
  models: { LongIdItem: z.object({ id: z.string() }) },
  exec: async (nango) => {
    await nango.batchSave([{ id: 'before' }, { id: noise(3000) }, { id: 'at-cap-' + noise(339) }, { id: 'after' }], 'LongIdItem');
    await nango.batchDelete([{ id: noise(3000) }], 'LongIdItem');
    await nango.batchSave([{ id: 'next' }], 'LongIdItem');
  },
});`;

// Records cross the bridge as JSON text, unparsed: the depth rule is checked on that text.
const DEEP_RECORDS_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const nest = (levels: number, wrap: (inner: unknown) => unknown) => { let o: unknown = 1; for (let i = 0; i < levels; i++) o = wrap(o); return o; };
export default createSync({
  description: 'records nested too deep among ordinary ones',
  frequency: 'every day',
  models: { DeepItem: z.object({ id: z.string() }).passthrough() },
  exec: async (nango) => {
    await nango.batchSave([
      { id: 'before' },
      { id: 'deep-objects', d: nest(10000, (o) => ({ d: o })) },
      { d: nest(150, (o) => [o]), id: 'deep-arrays-id-last' },
      { id: 'one-over', d: nest(100, (o) => ({ d: o })) },
      { id: 'at-the-limit', d: nest(99, (o) => ({ d: o })) },
      { id: 'brackets-in-text', text: '{[' + '[{'.repeat(3000) + '\\\\"{' },
      { id: 'wide', items: Array.from({ length: 300 }, (_, i) => ({ i, tags: [i, [i]] })) },
      { id: 'after' },
    ], 'DeepItem');
    await nango.batchUpdate([{ id: 'before', d: nest(200, (o) => ({ d: o })) }, { id: 'after', note: 'updated' }], 'DeepItem');
  },
});`;

// Keys JSON.parse makes own properties; records cross as text and keep them as data.
const PROTO_RECORDS_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'records with prototype keys',
  frequency: 'every day',
  models: { ProtoItem: z.object({ id: z.string() }).passthrough() },
  exec: async (nango) => {
    await nango.batchSave([JSON.parse('{"id":"p1","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"n":1}')], 'ProtoItem');
    await nango.batchUpdate([JSON.parse('{"id":"p1","__proto__":{"patched":true}}')], 'ProtoItem');
    const attempt = async (what: string, call: () => Promise<unknown>) => {
      try { await call(); nango.log(what + ' accepted'); } catch (error: any) { nango.log(what + ' ' + error.code + ': ' + error.message); }
    };
    await attempt('setMetadata', () => nango.setMetadata(JSON.parse('{"__proto__":{"admin":true},"kept":1}')));
    await attempt('updateMetadata', () => nango.updateMetadata(JSON.parse('{"a":{"__proto__":{"admin":true}}}')));
    await attempt('saveCheckpoint', () => nango.saveCheckpoint(JSON.parse('{"__proto__":{"page":2}}')));
  },
});`;

// NaN and ±Infinity have no JSON form (JSON.stringify writes null): each record holding one is
// rejected alone, named by where; nulls, number-like text and finite extremes are kept as given.
const NON_FINITE_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'records holding numbers JSON cannot write',
  frequency: 'every day',
  models: { Measure: z.object({ id: z.string() }).passthrough(), Counted: z.object({ id: z.string(), n: z.number() }) },
  exec: async (nango) => {
    await nango.batchSave([
      { id: 'nan', score: Number('not a number') },
      { id: 'deep-infinity', stats: { ok: 1, ratio: { value: 1 / 0 } } },
      { id: 'in-an-array', points: [1, 2, -1 / 0] },
      { id: 'via-toJSON', when: { toJSON: () => ({ at: NaN }) } },
      { id: 'nulls-and-text', none: null, text: 'NaN Infinity null', list: [null, 0, -0], max: Number.MAX_VALUE, tiny: 5e-324 },
      // JSON.stringify unboxes a Number object, and a Date's toJSON calls whatever toISOString it has.
      { id: 'boxed', n: new Number(NaN), none: null },
      { id: 'date-replaced', at: Object.assign(new Date(0), { toISOString: () => NaN }) },
      { id: 'dated', at: new Date(0), none: null, nested: [{ none: null, n: 1 }] },
    ], 'Measure');
    await nango.batchUpdate([{ id: 'nulls-and-text', later: 0 / 0 }, { id: 'nulls-and-text', none: null, updated: true }], 'Measure');
    // A model's own schema refuses them first, in its own words.
    await nango.batchSave([{ id: 'schema', n: NaN }, { id: 'fine', n: 1 }], 'Counted');
    // Metadata and checkpoints refuse them too, for that call alone (they were stored as null).
    const attempt = async (what: string, call: () => Promise<unknown>) => {
      try { await call(); nango.log(what + ' accepted'); } catch (error: any) { nango.log(what + ' ' + error.code + ': ' + error.message); }
    };
    await attempt('setMetadata', () => nango.setMetadata({ score: NaN, none: null }));
    await attempt('updateMetadata', () => nango.updateMetadata({ stats: { ok: null, ratio: 1 / 0 } }));
    await attempt('saveCheckpoint', () => nango.saveCheckpoint({ page: null, points: [1, -1 / 0] }));
    await attempt('saveCheckpoint with nulls', () => nango.saveCheckpoint({ page: null, text: 'NaN' }));
  },
});`;

let ferry: TestFerry;
const R = '\ufffd';

beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, {
    'plain/actions/deep-values.ts': DEEP_ACTION,
    'plain/actions/bad-text-action.ts': BAD_TEXT_ACTION,
    'plain/syncs/deep-checkpoint.ts': DEEP_CHECKPOINT,
    // On a connection of its own: the metadata it writes is not c1's, which other tests read.
    'texty/syncs/bad-text.ts': BAD_TEXT_SYNC,
    'plain/syncs/long-ids.ts': LONG_IDS_SYNC,
    'plain/syncs/deep-records.ts': DEEP_RECORDS_SYNC,
    'plain/syncs/proto-records.ts': PROTO_RECORDS_SYNC,
    'plain/syncs/non-finite.ts': NON_FINITE_SYNC,
  });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
  expect((await ferry.api.put('/providers/texty', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c-text', provider: 'texty' })).status).toBe(201);
}, 150_000); // eight scripts to deploy, on a loaded machine
afterAll(async () => {
  await ferry?.close();
});

const action = (name: string, mode: string) => ferry.api.post(`/actions/${name}`, { connection_id: 'c1', input: { mode } });

async function expectHostCarriesOn(): Promise<void> {
  expect((await ferry.api.get('/healthz')).status).toBe(200);
  const fine = await action('deep-values', 'fine');
  expect(fine.status).toBe(200);
  expect(fine.body.output).toEqual({ fine: true });
}

describe('a value nested 2,000 deep', () => {
  test('given to setMetadata or updateMetadata is refused for that call alone, and the run goes on', async () => {
    const { status, body } = await action('deep-values', 'calls');
    expect(status).toBe(200);
    expect(body.output.setMetadata).toMatch(/^INVALID_ARGUMENT: metadata is nested deeper than 100 levels/);
    expect(body.output.updateMetadata).toMatch(/^INVALID_ARGUMENT: metadata is nested deeper than 100 levels/);
    expect(body.output.shallow).toBe('accepted');
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual({ fine: { still: 'fine' } });
    await expectHostCarriesOn();
  });

  test('left to escape the script fails the run with INVALID_ARGUMENT', async () => {
    const { status, body } = await action('deep-values', 'escape');
    expect(status).toBeGreaterThanOrEqual(400);
    expect(body.error.run_error).toMatchObject({ kind: 'sdk', code: 'INVALID_ARGUMENT', message: expect.stringContaining('nested deeper than 100 levels') });
    await expectHostCarriesOn();
  });

  test("given to saveCheckpoint fails the sync's run with INVALID_ARGUMENT", async () => {
    const run = await waitForRun(ferry.api, 'c1', 'deep-checkpoint', '0', 60_000);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ kind: 'sdk', code: 'INVALID_ARGUMENT', message: expect.stringContaining('checkpoint is nested deeper than 100 levels') });
    await expectHostCarriesOn();
  });

  test("returned as an action's output, or carried as an ActionError's payload, fails the run with INVALID_OUTPUT", async () => {
    const output = await action('deep-values', 'output');
    expect(output.status).toBe(500);
    expect(output.body.error.run_error).toMatchObject({ kind: 'sdk', code: 'INVALID_OUTPUT', message: expect.stringContaining('the action output is nested deeper than 100 levels') });
    const payload = await action('deep-values', 'payload');
    expect(payload.body.error.run_error).toMatchObject({ kind: 'sdk', code: 'INVALID_OUTPUT', message: expect.stringContaining("the ActionError's payload is nested deeper than 100 levels") });
    expect(payload.body.error.run_error.message).toContain('look at my payload');
    await expectHostCarriesOn();
  });

  test('produced by a definition at deploy is a refused deploy, not a dead host', async () => {
    await expect(deploySources(ferry, { 'plain/actions/deep-definition.ts': DEEP_DEFINITION })).rejects.toThrow(/nested deeper than 100 levels/);
    await expectHostCarriesOn();
  });
});

describe('NUL bytes and lone surrogates in script text are stored as U+FFFD (in a record id they reject that record)', () => {
  test("in log lines (none lost from their flush), metadata, a checkpoint, a record and the run's error", async () => {
    const run = await waitForRun(ferry.api, 'c-text', 'bad-text', '0', 60_000);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: `bad ${R} byte ${R}` });
    const logs = (await ferry.api.get(`/runs/${run.id}/logs`)).body.logs.map((l: any) => l.message);
    // console.* writes objects as JSON, where a lone surrogate is already the escape \udc00.
    expect(logs).toEqual(['first line', `a NUL ${R} here`, `a lone ${R} surrogate {"and":"\\udc00"}`, 'last line']);
    expect((await ferry.api.get('/connections/c-text/metadata')).body).toMatchObject({ note: `m${R}`, lone: R, [`k${R}ey`]: 'v' });
    const status = await ferry.api.get('/syncs/bad-text/status?connection_id=c-text');
    expect(status.body.checkpoint).toEqual({ at: `c${R}${R}` });
    const { records } = await readAll(ferry.api, 'c-text', 'Item');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: 'r', name: `n${R}${R} and a pair \u{1F600}` });
    expect(run.counts).toMatchObject({ added: 1, rejected: 2 });
    const reasons = await ferry.db.sql<{ record_id: string; reason: string }[]>`select record_id, reason from rejected_records where run_id = ${run.id}`;
    expect(reasons.map((r) => [r.record_id, r.reason]).sort()).toEqual([
      [`lone${R}`, 'id: contains a lone surrogate (not valid Unicode), which cannot be stored'],
      [`r${R}`, 'id: contains a NUL character (U+0000), which cannot be stored'],
    ]);
  });

  test("in an error's message, an ActionError's type, message and payload, and an action's output; every run settles", async () => {
    const thrown = await action('bad-text-action', 'throw');
    expect(thrown.status).toBe(500);
    expect(thrown.body.error.run_error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: `bad ${R} byte ${R}` });
    const run = await ferry.api.get(`/runs/${thrown.body.error.run_id}`);
    expect(run.body).toMatchObject({ status: 'failed', error: { message: `bad ${R} byte ${R}` } });

    const refused = await action('bad-text-action', 'action-error');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'ACTION_ERROR', type: `t${R}`, message: `m${R}`, payload: { p: `p${R}` } });
    expect((await ferry.api.get(`/runs/${refused.body.error.run_id}`)).body.status).toBe('failed');

    const output = await action('bad-text-action', 'output');
    expect(output.status).toBe(200);
    expect(output.body.output).toEqual({ out: `o${R}${R}` });
    expect((await ferry.api.get(`/runs/${output.body.run_id}`)).body.status).toBe('succeeded');
  });
});

describe('a record id too long for an index', () => {
  test('is rejected with its size and the cap; the records around it and the batches after it are saved', async () => {
    const run = await waitForRun(ferry.api, 'c1', 'long-ids', '0', 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ added: 4, rejected: 2 });
    const { records } = await readAll(ferry.api, 'c1', 'LongIdItem');
    const ids = records.map((r: { id: string }) => r.id);
    expect(ids.filter((id: string) => !id.startsWith('at-cap-')).sort()).toEqual(['after', 'before', 'next']);
    // 7 + 339 × 3 = 1,024 bytes: at the cap is kept.
    expect(ids.filter((id: string) => id.startsWith('at-cap-')).map((id: string) => Buffer.byteLength(id))).toEqual([1024]);
    const rejected = (await ferry.api.get(`/runs/${run.id}/rejected`)).body;
    const reasons = JSON.stringify(rejected);
    expect(reasons).toContain('9000 bytes long, over the 1024-byte cap');
  });
});

describe('a record nested deeper than 100 levels', () => {
  test('is rejected alone, with its reason, in a save or an update; the records around it are saved, brackets in strings and wide records too', async () => {
    const run = await waitForRun(ferry.api, 'c1', 'deep-records', '0', 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ added: 5, updated: 1, rejected: 4 });
    const { records } = await readAll(ferry.api, 'c1', 'DeepItem');
    expect(records.map((r: { id: string }) => r.id).sort()).toEqual(['after', 'at-the-limit', 'before', 'brackets-in-text', 'wide']);
    const byId = new Map(records.map((r: any) => [r.id, r]));
    // The record itself is level 1: 99 nested objects inside it make 100 levels, kept whole.
    let depth = 0;
    for (let o: any = byId.get('at-the-limit'); typeof o === 'object'; o = o.d) depth++;
    expect(depth).toBe(100);
    expect(byId.get('before')).not.toHaveProperty('d');
    expect(byId.get('after')).toMatchObject({ note: 'updated' });
    expect((byId.get('brackets-in-text') as any).text).toBe('{[' + '[{'.repeat(3000) + '\\"{');
    expect((byId.get('wide') as any).items).toHaveLength(300);
    const { rejected } = (await ferry.api.get(`/runs/${run.id}/rejected`)).body as { rejected: Array<{ record_id: string; reason: string }> };
    expect(rejected.map((r) => r.record_id).sort()).toEqual(['before', 'deep-arrays-id-last', 'deep-objects', 'one-over']);
    for (const r of rejected) expect(r.reason).toBe('record is nested deeper than 100 levels');
    await expectHostCarriesOn();
  });
});

describe('a record holding NaN or ±Infinity', () => {
  test('is rejected alone, naming where and why, not stored with null in its place; nulls and number-like text are kept', async () => {
    const run = await waitForRun(ferry.api, 'c1', 'non-finite', '0', 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ added: 3, updated: 1, rejected: 8 });
    const { rejected } = (await ferry.api.get(`/runs/${run.id}/rejected`)).body as { rejected: Array<{ record_id: string; reason: string }> };
    const why = Object.fromEntries(rejected.map((r) => [r.record_id + (r.record_id === 'nulls-and-text' ? ' (update)' : ''), r.reason]));
    const stored = 'is not a JSON number (it would be stored as null): save null, or the value as a string';
    expect(why).toMatchObject({
      nan: `score: NaN ${stored}`,
      'deep-infinity': `stats.ratio.value: Infinity ${stored}`,
      'in-an-array': `points.2: -Infinity ${stored}`,
      'via-toJSON': `when.at: NaN ${stored}`,
      'nulls-and-text (update)': `later: NaN ${stored}`,
      boxed: `n: NaN ${stored}`,
      'date-replaced': `at: NaN ${stored}`,
      schema: expect.stringContaining('n'),
    });
    const { records } = await readAll(ferry.api, 'c1', 'Measure');
    expect(records.map((r: { id: string }) => r.id)).toEqual(['dated', 'nulls-and-text']);
    expect(records[0]).toMatchObject({ at: '1970-01-01T00:00:00.000Z', none: null, nested: [{ none: null, n: 1 }] });
    expect(records[1]).toMatchObject({ none: null, text: 'NaN Infinity null', list: [null, 0, 0], max: Number.MAX_VALUE, tiny: 5e-324, updated: true });
    expect(records[1]).not.toHaveProperty('later');
    expect((await readAll(ferry.api, 'c1', 'Counted')).records.map((r: { id: string }) => r.id)).toEqual(['fine']);
  });

  test('in metadata or a checkpoint fails that call alone with INVALID_ARGUMENT naming where, as the API refuses 1e400 (it was stored as null)', async () => {
    const before = (await ferry.api.get('/connections/c1/metadata')).body;
    const run = await waitForRun(ferry.api, 'c1', 'non-finite', '0', 60_000);
    const logs = (await ferry.api.get(`/runs/${run.id}/logs`)).body.logs.map((l: any) => l.message);
    const stored = 'is not a JSON number (it would be stored as null): save null, or the value as a string';
    expect(logs).toEqual([
      `setMetadata INVALID_ARGUMENT: metadata: score: NaN ${stored}`,
      `updateMetadata INVALID_ARGUMENT: metadata: stats.ratio: Infinity ${stored}`,
      `saveCheckpoint INVALID_ARGUMENT: checkpoint: points.1: -Infinity ${stored}`,
      'saveCheckpoint with nulls accepted',
    ]);
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual(before);
    // The HTTP API's counterpart: a number JSON.parse would make Infinity is a 400 naming it.
    const answer = await ferry.api.request('PATCH', '/connections/c1/metadata', '{"stats":{"ratio":1e400}}');
    expect(answer.status).toBe(400);
    expect(answer.body.error.issues[0].path).toEqual(['body', 'stats', 'ratio']);
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual(before);
  });
});

describe('a "__proto__" key', () => {
  const raw = async (method: string, path: string, body: string) => {
    const res = await fetch(`${ferry.url}${path}`, { method, headers: { authorization: `Bearer ${TEST_SECRET_KEY}`, 'content-type': 'application/json' }, body });
    return { status: res.status, body: await res.json() as any };
  };

  test('in a request body is refused with a 400 naming it, wherever it is, instead of being dropped (it was, from metadata and action input)', async () => {
    const before = (await ferry.api.get('/connections/c1/metadata')).body;
    const requests: Array<[string, string, string, string[]]> = [
      ['PUT', '/connections/c1/metadata', '{"__proto__":{"admin":true},"a":1}', ['body', '__proto__']],
      ['PATCH', '/connections/c1/metadata', '{"b":{"__proto__":{"admin":true}}}', ['body', 'b', '__proto__']],
      ['POST', '/connections', '{"connection_id":"proto-c","provider":"plain","metadata":{"__proto__":{"m":1}}}', ['body', 'metadata', '__proto__']],
      ['POST', '/actions/deep-values', '{"connection_id":"c1","input":{"__proto__":{"mode":"calls"}}}', ['body', 'input', '__proto__']],
    ];
    for (const [method, path, body, at] of requests) {
      const answer = await raw(method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'INVALID_REQUEST', issues: [{ path: at, message: expect.stringContaining('"__proto__" is not accepted') }] });
    }
    expect((await ferry.api.get('/connections/c1/metadata')).body).toEqual(before);
    expect((await ferry.api.get('/connections/proto-c')).status).toBe(404);
    expect(({} as any).admin).toBeUndefined();
    await expectHostCarriesOn();
  });

  test('in a record a script saves is kept as data, in a save and an update', async () => {
    const run = await waitForRun(ferry.api, 'c1', 'proto-records', '0', 60_000);
    expect(run.status).toBe('succeeded');
    const page = await fetch(`${ferry.url}/records?connection_id=c1&model=ProtoItem`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });
    const [record] = ((await page.json()) as { records: any[] }).records;
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.hasOwn(record, '__proto__')).toBe(true);
    expect(record['__proto__']).toEqual({ patched: true });
    expect(record.constructor).toEqual({ prototype: { x: 1 } });
  });

  test('in metadata or a checkpoint a script stores is refused for that call alone (it was dropped, its contents inherited)', async () => {
    const run = await waitForRun(ferry.api, 'c1', 'proto-records', '0', 60_000);
    const logs = (await ferry.api.get(`/runs/${run.id}/logs`)).body.logs.map((l: any) => l.message);
    const refused = (what: string) => `${what} INVALID_ARGUMENT: ${what === 'saveCheckpoint' ? 'checkpoint' : 'metadata'}: a "__proto__" key is not accepted (it would be taken for the object's prototype, not kept as data)`;
    expect(logs).toEqual([refused('setMetadata'), refused('updateMetadata'), refused('saveCheckpoint')]);
    expect(run.status).toBe('succeeded');
  });
});
