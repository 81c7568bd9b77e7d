/**
 * The hostile scripts of the sandbox conformance suite, grouped by the guarantee they attack.
 * Each case is data: a script, its limits, and what must hold after each of its runs. The suite
 * (conformance.test.ts) runs every case against every execution mode, then a healthy script on
 * the same runtime to prove the worker carried on.
 */
import { expect } from 'vitest';
import { scriptStackKib } from '../../runtime/worker/stack-size.ts';
import type { Limits, RunResult } from '../../runtime/index.ts';
import { CAPS } from '../../runtime/index.ts';
import type { recordingBridge } from '../runtime/helpers.ts';
import { actionScript, MiB, report, syncScript, type Provider } from './harness.ts';

export interface CaseRun {
  result: RunResult;
  recorded: ReturnType<typeof recordingBridge>;
  provider: Provider;
  /** 0 for the first run of the case's bundle, 1 for the next (a warm start in warm mode). */
  index: number;
}

export interface SandboxCase {
  name: string;
  source: string;
  kind?: 'sync' | 'action';
  input?: unknown;
  limits?: Partial<Limits>;
  /** Runs of the same bundle in a row (default 2: the second reuses a warm isolate when the mode has one). */
  runs?: number;
  check(run: CaseRun): void;
}

const ok = (result: RunResult) => {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result;
};
const failed = (result: RunResult) => {
  if (result.ok) throw new Error('expected the run to fail');
  return result.error;
};

/** A limit error carrying its limit and what was used. */
function expectLimit(result: RunResult, code: string, limit: number): void {
  const error = failed(result);
  expect(error).toMatchObject({ kind: 'limit', code, limit });
  expect(error.used).toBeTypeOf('number');
  if (code !== 'WALL_TIME' && code !== 'CPU') return;
  expect(error.used!).toBeGreaterThanOrEqual(limit);
}

const HOST_GLOBALS = ['process', 'require', 'module', 'exports', 'Buffer', 'global', 'ivm', 'setImmediate', 'fetch', 'XMLHttpRequest', 'WebSocket', 'importScripts', 'WebAssembly', 'gc', '__ferry_host'];
const PROBE = `(() => {
  const found = {};
  for (const name of ${JSON.stringify(HOST_GLOBALS)}) {
    try { found[name] = typeof eval(name); } catch { found[name] = 'undefined'; }
  }
  found.bridgeGlobals = Object.getOwnPropertyNames(globalThis).filter((n) => /ivm|ferry_host|^(Reference|Callback|ExternalCopy|Isolate|Context|send|deliver|hostLog|hostCall|run|describe|pending)$/i.test(n));
  return found;
})()`;

// ---- isolation: no host object is reachable, whatever the trick ------------------------------
export const ESCAPES: SandboxCase[] = [
  {
    name: 'finds no process, require, module, Buffer, fetch, gc or isolated-vm object, at top level or in exec',
    source: syncScript(`ctx.log(JSON.stringify({ atTop, inExec: ${PROBE}, ctxObjects: Object.keys(ctx).filter((k) => typeof ctx[k] === 'object' && ctx[k] !== null && !(ctx[k] instanceof Date)) }));`, `const atTop = ${PROBE};`),
    check({ result }) {
      const seen = report(ok(result).logs);
      for (const where of [seen.atTop, seen.inExec]) {
        for (const name of HOST_GLOBALS) expect(where[name], name).toBe('undefined');
        expect(where.bridgeGlobals).toEqual([]);
      }
      expect(seen.ctxObjects).toEqual([]);
    },
  },
  {
    name: 'constructor chains (this, ctx functions, async functions, SDK errors) reach only the isolate',
    source: syncScript(`
      const tries = {
        globalCtor: () => globalThis.constructor.constructor('return process')(),
        objCtor: () => ({}).constructor.constructor('return process')(),
        logCtor: () => ctx.log.constructor('return process')(),
        asyncCtor: () => (async () => {}).constructor('return process')(),
        globalThisProcess: () => Function('return this')().process,
        errorCtor: () => sdkError.constructor.constructor('return process')(),
        requireViaGlobal: () => Function('return this')().require,
      };
      let sdkError;
      try { await ctx.batchSave([{ id: 1 }], 'Nope'); } catch (e) { sdkError = e; }
      const out = {};
      for (const [k, f] of Object.entries(tries)) {
        try { const v = await f(); out[k] = typeof v; } catch (e) { out[k] = 'threw ' + e.name; }
      }
      ctx.log(JSON.stringify(out));
    `),
    check({ result }) {
      const out = report(ok(result).logs);
      for (const key of ['globalCtor', 'objCtor', 'logCtor', 'asyncCtor', 'errorCtor']) expect(out[key], key).toBe('threw ReferenceError');
      expect(out.globalThisProcess).toBe('undefined');
      expect(out.requireViaGlobal).toBe('undefined');
    },
  },
  {
    name: 'Error.prepareStackTrace sees only frames of the script, never host code',
    source: syncScript(`
      const files = new Set();
      const receivers = new Set();
      Error.prepareStackTrace = (error, frames) => {
        for (const f of frames) { files.add(String(f.getFileName())); const r = f.getThis(); if (r && r !== globalThis) receivers.add(Object.getOwnPropertyNames(r).join(',')); }
        return 'rewritten';
      };
      const stacks = [];
      try { await ctx.get({ endpoint: '/missing-' + 'x'.repeat(3) }); } catch (e) { stacks.push(e.stack); }
      try { await ctx.batchSave([{ id: '1' }], 'Nope'); } catch (e) { stacks.push(e.stack); }
      try { await ctx.setMetadata([1, 2]); } catch (e) { stacks.push(e.stack); }
      try { null.x; } catch (e) { stacks.push(e.stack); }
      ctx.log(JSON.stringify({ files: [...files], receivers: [...receivers], stacks }));
      Error.prepareStackTrace = () => { throw new Error('stack trap'); };
      throw new Error('boom');
    `),
    check({ result }) {
      const error = failed(result);
      expect(error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: 'boom' });
      const seen = report(result.logs);
      expect(seen.stacks.length).toBeGreaterThanOrEqual(3);
      for (const stack of seen.stacks) expect(stack).toBe('rewritten');
      for (const file of seen.files) expect(file).not.toMatch(/node:|\/runtime\/|\/work\/|worker|\.ts$/);
      expect(JSON.stringify(seen.receivers)).not.toMatch(/process|require|Buffer/);
    },
  },
  {
    name: 'Proxies, getters and toJSON in values handed to SDK calls run in the isolate; the host gets checked JSON copies',
    source: syncScript(`
      let reads = 0;
      const shifty = { get id() { reads++; return reads === 1 ? 'first' : 'second'; }, name: 'shifty' };
      const proxied = new Proxy({ id: 'p1' }, { get: (t, k) => (k === 'id' ? 'p1' : k === 'toJSON' ? () => ({ id: 'p1', via: 'proxy' }) : t[k]) });
      const jsonTwist = { id: 'j1', toJSON: () => ({ id: 'j1-json', twisted: true }) };
      await ctx.batchSave([shifty, proxied, jsonTwist], 'A');
      const out = {};
      try { await ctx.batchSave(new Proxy([], { get() { throw new Error('trap'); } }), 'A'); } catch (e) { out.trap = e.message; }
      try { await ctx.get({ get endpoint() { reads++; return reads > 5 ? { toString: () => '/x' } : '/hello'; } }); out.getter = 'sent'; } catch (e) { out.getter = e.code || e.message; }
      try { await ctx.setMetadata({ get k() { throw new Error('getter trap'); } }); } catch (e) { out.metadata = e.message; }
      ctx.log(JSON.stringify(out));
    `),
    check({ result, recorded }) {
      const out = report(ok(result).logs);
      expect(out.trap).toBe('trap');
      expect(out.metadata).toBe('getter trap');
      const records = recorded.batches[0]!.records;
      // Whatever the script's getters said, the id the host keys on is the one in the JSON it stores.
      for (const record of records) expect(JSON.parse(record.json).id).toBe(record.id);
      expect(records.map((r) => r.id)).toEqual(['second', 'p1', 'j1-json']);
      for (const request of recorded.proxied) expect(typeof request.endpoint).toBe('string');
    },
  },
  {
    name: '__proto__, constructor and prototype keys inside records stay data and pollute nothing',
    source: syncScript(`
      const before = { polluted: ({}).polluted, hasHello: typeof ({}).hello };
      await ctx.batchSave([
        JSON.parse('{"id":"p1","__proto__":{"polluted":"yes"}}'),
        { id: 'p2', constructor: { prototype: { polluted: 'yes' } } },
        JSON.parse('{"id":"p3","prototype":{"polluted":"yes"},"__proto__":{"id":"spoofed"}}'),
      ], 'A');
      // Metadata refuses the key (a copy would take it for its prototype): that call alone fails.
      const metadata = await ctx.setMetadata(JSON.parse('{"__proto__":{"polluted":"yes"}}')).then(() => 'accepted', (e) => e.code);
      ctx.log(JSON.stringify({ before, after: ({}).polluted ?? null, metadata }));
    `),
    check({ result, recorded }) {
      const seen = report(ok(result).logs);
      expect(seen.before.polluted).toBeUndefined();
      expect(seen.after).toBeNull();
      expect(seen.metadata).toBe('INVALID_ARGUMENT');
      const records = recorded.batches[0]!.records;
      expect(records.map((r) => r.id)).toEqual(['p1', 'p2', 'p3']);
      expect(JSON.parse(records[0]!.json)).toEqual(JSON.parse('{"id":"p1","__proto__":{"polluted":"yes"}}'));
      expect(Object.getOwnPropertyNames(JSON.parse(records[0]!.json))).toContain('__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  },
  {
    // The SDK serialises inside the isolate, so its JSON.stringify looks up `toJSON` (and awaits
    // look up `then`): those reads run the script's own getters, in the isolate, harmlessly.
    name: 'getters planted on Object.prototype (then, result, toJSON) change neither the SDK nor the host',
    source: syncScript(`
      const leaked = [];
      for (const key of ['result', 'then', 'toJSON', 'status', 'body']) {
        Object.defineProperty(Object.prototype, key, { get() { leaked.push(key); return undefined; }, configurable: true });
      }
      await ctx.batchSave([{ id: '1' }], 'A');
      const response = await ctx.get({ endpoint: '/hello' });
      for (const key of ['result', 'then', 'toJSON', 'status', 'body']) delete Object.prototype[key];
      ctx.log(JSON.stringify({ leaked: leaked.filter((k) => k !== 'then' && k !== 'toJSON'), status: response.status, hello: response.data.hello }));
    `),
    check({ result, recorded }) {
      expect(report(ok(result).logs)).toEqual({ leaked: [], status: 200, hello: 'world' });
      expect(recorded.batches[0]?.records.map((r) => r.id)).toEqual(['1']);
    },
  },
  {
    name: 'built-ins the script replaces (JSON.stringify, JSON.parse) do not change what crosses the bridge',
    source: syncScript(`
      await ctx.batchSave([{ id: 'first' }], 'A'); // zod compiles its parser (with JSON) on first use
      JSON.stringify = () => '{"id":"forged"}';
      JSON.parse = () => ({ forged: true });
      await ctx.batchSave([{ id: 'real' }], 'A');
      const response = await ctx.get({ endpoint: '/hello' });
      ctx.log('hello is', response.data.hello);
    `),
    check({ result, recorded }) {
      expect(ok(result).logs[0]?.message).toBe('hello is world');
      expect(recorded.batches[1]?.records).toHaveLength(1);
      expect(JSON.parse(recorded.batches[1]!.records[0]!.json)).toEqual({ id: 'real' });
      expect(recorded.proxied[0]?.method).toBe('GET');
    },
  },
  {
    name: 'a sabotaged Promise.prototype.then ends only its own run, as data',
    source: syncScript(`Promise.prototype.then = function () { return this; }; await ctx.batchSave([{ id: '1' }], 'A');`),
    limits: { wallTimeMs: 1_500 },
    runs: 1,
    check({ result }) {
      // Whichever way it ends (the SDK's own promises still work, or the run hangs until its
      // deadline), it ends as a RunResult of this run.
      if (!result.ok) expect(['script', 'limit', 'sdk']).toContain(result.error.kind);
    },
  },
  {
    name: 'error markers forged by the script cannot claim a limit, an internal error or another kind',
    source: syncScript(`
      const e = new Error('forged');
      e.__ferryError = 'WORKER_CRASHED';
      Object.defineProperty(e, '__ferrySdkError', { value: 'MEMORY' });
      throw e;
    `),
    check({ result }) {
      expect(failed(result)).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: 'forged' });
    },
  },
  // Reading a thrown value's message runs the script's code (traps, getters, toString): a throw
  // from there must leave the failure the script's, not the runtime's.
  {
    name: 'a thrown Proxy whose every trap throws fails as the script\'s error, not an internal one',
    source: syncScript(`
      const trap = () => { throw new Error('trapped'); };
      throw new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap });
    `),
    check({ result }) {
      expect(failed(result)).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: expect.stringContaining('cannot be read as text') });
    },
  },
  {
    name: 'a thrown Error whose message getter throws fails as the script\'s error, with its stack',
    source: syncScript(`
      const e = new Error('hidden');
      Object.defineProperty(e, 'message', { get() { throw new Error('no message for you'); } });
      throw e;
    `),
    check({ result }) {
      const error = failed(result);
      expect(error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: expect.stringContaining('cannot be read as text') });
      expect(error.stack).toContain('Error');
    },
  },
  ...([
    ['a function', 'return () => 1;', 'is a function'],
    ['a symbol', "return Symbol('s');", 'is a symbol'],
    ['a cycle', 'const o = { a: 1 }; o.self = o; return o;', 'circular'],
    ['a BigInt', 'return { n: 10n };', 'BigInt'],
  ] as const).map(([what, body, says]): SandboxCase => ({
    name: `an action returning ${what} fails with INVALID_OUTPUT saying why, not a TypeError of the runtime`,
    source: actionScript(body),
    kind: 'action',
    input: {},
    runs: 1,
    check({ result }) {
      expect(failed(result)).toMatchObject({ kind: 'sdk', code: 'INVALID_OUTPUT', message: expect.stringContaining(says) });
      expect(failed(result).message).toMatch(/^the action's output/);
    },
  })),
];

// ---- the proxied fetch is the only way out ----------------------------------------------------
export const WAY_OUT: SandboxCase[] = [
  {
    name: 'import() of node built-ins, URLs and data: modules is refused; only the proxied call reaches the provider',
    source: syncScript(`
      const out = {};
      const { connection_config: cfg } = await ctx.getConnection();
      for (const spec of ['node:fs', 'fs', cfg.providerUrl + '/evil.js', 'data:text/javascript,export default 1']) {
        try { await import(spec); out[spec.slice(0, 8)] = 'imported'; } catch (e) { out[spec.slice(0, 8)] = 'refused'; }
      }
      for (const name of ['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'navigator']) {
        try { await globalThis[name](cfg.providerUrl + '/direct'); out[name] = 'called'; } catch { out[name] = 'refused'; }
      }
      const via = await ctx.get({ endpoint: '/hello' });
      ctx.log(JSON.stringify({ out, via: via.data.path }));
    `),
    check({ result, provider }) {
      const seen = report(ok(result).logs);
      for (const value of Object.values(seen.out)) expect(value).toBe('refused');
      expect(seen.via).toBe('/hello');
      expect(provider.requests.filter((p) => p.startsWith('/evil') || p.startsWith('/direct'))).toEqual([]);
    },
  },
];

// ---- every value that crosses is copied, validated and capped -------------------------------
const capCase = (name: string, body: string, check: SandboxCase['check'], limits?: Partial<Limits>): SandboxCase => ({
  name,
  source: syncScript(`
    const caught = async (f) => { try { await f(); return 'passed'; } catch (e) { return (e.code || 'NO_CODE') + ': ' + e.message; } };
    ${body}
  `),
  limits: { memoryMb: 256, ...limits },
  runs: 1,
  check,
});

export const CAPS_CASES: SandboxCase[] = [
  capCase(
    'a batch over its byte cap fails that call alone; the next batch is saved',
    `const big = Array.from({ length: 20 }, (_, i) => ({ id: 'b' + i, pad: 'x'.repeat(${Math.ceil(CAPS.batchBytes / 16)}) }));
     ctx.log(await caught(() => ctx.batchSave(big, 'A')));
     await ctx.batchSave([{ id: 'small' }], 'A');`,
    ({ result, recorded }) => {
      expect(ok(result).logs[0]?.message).toMatch(/^PAYLOAD_TOO_LARGE: .*cap/);
      expect(recorded.batches.map((b) => b.records.map((r) => r.id))).toEqual([['small']]);
    },
  ),
  capCase(
    'a record over its byte cap fails that batch with the record named',
    `ctx.log(await caught(() => ctx.batchSave([{ id: 'ok' }, { id: 'huge', pad: 'x'.repeat(${CAPS.recordBytes + 10}) }], 'A')));`,
    ({ result, recorded }) => {
      expect(ok(result).logs[0]?.message).toMatch(/^PAYLOAD_TOO_LARGE: record "huge"/);
      expect(recorded.batches).toEqual([]);
    },
  ),
  capCase(
    'a log line over its cap is truncated, and logs past the per-run cap are dropped with one warning',
    `ctx.log('y'.repeat(${CAPS.logLineChars * 4}));
     console.warn({ nested: 'z'.repeat(${CAPS.logLineChars * 2}) });
     for (let i = 0; i < ${CAPS.logsPerRun + 50}; i++) console.info('line ' + i);`,
    ({ result }) => {
      const logs = ok(result).logs;
      expect(logs[0]?.message).toHaveLength(CAPS.logLineChars);
      expect(logs[1]).toMatchObject({ level: 'warn' });
      expect(logs[1]?.message.length).toBeLessThanOrEqual(CAPS.logLineChars);
      expect(logs).toHaveLength(CAPS.logsPerRun + 1);
      expect(logs.at(-1)).toMatchObject({ level: 'warn', message: expect.stringContaining('log limit') });
    },
  ),
  capCase(
    'a proxied request body over its cap is refused before it leaves; the provider never sees it',
    `ctx.log(await caught(() => ctx.post({ endpoint: '/upload', data: 'u'.repeat(${CAPS.proxyRequestBytes + 10}) })));`,
    ({ result, provider }) => {
      expect(ok(result).logs[0]?.message).toMatch(/^PAYLOAD_TOO_LARGE: proxy request/);
      expect(provider.requests.filter((p) => p.startsWith('/upload'))).toEqual([]);
    },
  ),
  capCase(
    'a proxied response over its cap fails that call',
    `ctx.log(await caught(() => ctx.get({ endpoint: '/big' })));
     ctx.log(await caught(() => ctx.get({ endpoint: '/hello' })));`,
    ({ result }) => {
      const logs = ok(result).logs.map((l) => l.message);
      expect(logs[0]).toMatch(/^PAYLOAD_TOO_LARGE: proxy response/);
      expect(logs[1]).toBe('passed');
    },
  ),
  capCase(
    'metadata and checkpoints over their cap or of the wrong shape fail that call',
    `ctx.log(await caught(() => ctx.setMetadata({ pad: 'm'.repeat(${CAPS.stateBytes + 10}) })));
     ctx.log(await caught(() => ctx.saveCheckpoint({ pad: 'c'.repeat(${CAPS.stateBytes + 10}) })));
     ctx.log(await caught(() => ctx.setMetadata(['not', 'an', 'object'])));
     ctx.log(await caught(() => ctx.saveCheckpoint({ page: 2 })));`,
    ({ result, recorded }) => {
      const logs = ok(result).logs.map((l) => l.message);
      expect(logs[0]).toMatch(/^PAYLOAD_TOO_LARGE/);
      expect(logs[1]).toMatch(/^PAYLOAD_TOO_LARGE/);
      expect(logs[2]).toMatch(/^INVALID_ARGUMENT/);
      expect(logs[3]).toBe('passed');
      expect(recorded.checkpoints).toEqual([{ page: 2 }]);
    },
  ),
  capCase(
    'cycles, BigInts, 10,000-deep nesting and a 100 MB string handed to batchSave, setMetadata, saveCheckpoint and the proxy fail that call alone, as the script\'s error; symbols are dropped; the logger takes anything',
    `const cyclic = { id: 'cyc' }; cyclic.self = cyclic;
     let deep = { id: 'deep' }; for (let i = 0; i < 10000; i++) deep = { id: 'deep', d: deep };
     const huge = 'h'.repeat(100 * 1024 * 1024);
     const values = { cyclic, symbol: { id: 'sym', [Symbol('k')]: 1, s: Symbol('v') }, bigint: { id: 'big', n: 10n }, deep, huge: { id: 'huge', huge } };
     const out = {};
     for (const [what, value] of Object.entries(values)) {
       out['batchSave ' + what] = await caught(() => ctx.batchSave([value], 'A'));
       out['setMetadata ' + what] = await caught(() => ctx.setMetadata(value));
       out['saveCheckpoint ' + what] = await caught(() => ctx.saveCheckpoint(value));
       out['post ' + what] = await caught(() => ctx.post({ endpoint: '/upload', data: value }));
       out['log ' + what] = await caught(() => console.log(value));
     }
     ctx.log(JSON.stringify(out));
     await ctx.batchSave([{ id: 'after' }], 'A');`,
    ({ result, recorded, provider }) => {
      // The report is the last line, after what console.log made of each value.
      const out = report(ok(result).logs.slice(-1)) as Record<string, string>;
      // A cycle, a BigInt or 100 MB cannot become JSON within the caps: each call fails alone with
      // a coded error. A symbol-keyed field is dropped and a symbol value omitted, as by
      // JSON.stringify. Deep nesting is refused where the host stores it as a value (metadata,
      // checkpoints: MAX_DEPTH); a proxied body is text for the provider. Records cross as JSON
      // text, unparsed (runtime/worker/records.ts): the call goes on, and the deep record alone is
      // rejected, with its reason, by a depth check on that text.
      const mustFail = Object.keys(out).filter((call) => !call.startsWith('log ') && !call.endsWith(' symbol') && !['batchSave deep', 'post deep'].includes(call));
      expect(mustFail).toHaveLength(14);
      for (const call of mustFail) {
        expect(out[call], call).toMatch(/^[A-Za-z_]+: /);
        expect(out[call], call).not.toMatch(/INTERNAL|BRIDGE_ERROR|passed/);
      }
      for (const call of Object.keys(out).filter((c) => c.startsWith('log ') || c.endsWith(' symbol'))) expect(out[call], call).toBe('passed');
      expect(Object.keys(out)).toHaveLength(25);
      expect(recorded.batches.flatMap((b) => b.records.map((r) => r.id))).toEqual(expect.arrayContaining(['after']));
      expect(recorded.batches.flatMap((b) => b.records.map((r) => r.id))).not.toContain('huge');
      expect(recorded.batches.flatMap((b) => b.records.map((r) => r.id))).not.toContain('deep');
      expect(recorded.batches.flatMap((b) => b.rejected)).toContainEqual({ id: 'deep', reason: 'record is nested deeper than 100 levels' });
      // Only the two bodies that became JSON reached the provider: the symbol's and the deep one.
      expect(provider.requests.filter((p) => p.startsWith('/upload'))).toHaveLength(2);
    },
    { memoryMb: 1024, wallTimeMs: 120_000, cpuTimeMs: 60_000 },
  ),
  {
    name: 'an action output over its cap fails the run with OUTPUT_SIZE, its limit and the size used',
    source: actionScript(`return { blob: 'o'.repeat(${CAPS.actionOutputBytes + 10}) };`),
    kind: 'action',
    input: {},
    runs: 1,
    check({ result }) {
      const error = failed(result);
      expect(error).toMatchObject({ kind: 'limit', code: 'OUTPUT_SIZE', limit: CAPS.actionOutputBytes });
      expect(error.used).toBeGreaterThan(CAPS.actionOutputBytes);
    },
  },
];

// ---- after exec returns, what the script left behind is refused -----------------------------
export const LEFTOVERS: SandboxCase[] = [
  {
    name: 'timers, un-awaited promises and intervals left running after exec returns reach nothing',
    source: syncScript(`
      setTimeout(() => { ctx.log('late timer'); ctx.batchSave([{ id: 'late-timer' }], 'A'); }, 10);
      setInterval(() => { ctx.get({ endpoint: '/late-interval' }); }, 5);
      (async () => { await new Promise((r) => setTimeout(r, 10)); await ctx.batchSave([{ id: 'late-async' }], 'A'); })();
      Promise.resolve().then(async () => { await null; await null; await null; ctx.log('late microtask'); });
      ctx.log('returning');
    `),
    check({ result, recorded, provider }) {
      // Checked after the next run on the same worker has finished (later than every timer).
      expect(ok(result).logs.map((l) => l.message)).toEqual(['returning']);
      expect(recorded.batches).toEqual([]);
      expect(recorded.proxied).toEqual([]);
      expect(provider.requests.filter((p) => p.startsWith('/late'))).toEqual([]);
    },
  },
  {
    name: 'a batchSave made before exec returned but not awaited is finished before the run is',
    source: syncScript(`ctx.batchSave([{ id: 'not-awaited' }], 'A'); ctx.get({ endpoint: '/not-awaited' });`),
    check({ result, recorded }) {
      ok(result);
      expect(recorded.batches.map((b) => b.records.map((r) => r.id))).toEqual([['not-awaited']]);
      expect(recorded.proxied.map((p) => p.endpoint)).toEqual(['/not-awaited']);
    },
  },
  {
    name: 'nothing one run leaves in its realm (globals, prototypes, built-ins) is visible to the next',
    source: syncScript(`
      const seen = { global: typeof globalThis.leftBehind, proto: typeof ({}).leftBehind, json: JSON.stringify({ a: 1 }), push: [].push.name, counter: globalThis.counter ?? null };
      globalThis.leftBehind = 'run state';
      Object.prototype.leftBehind = 'polluted';
      JSON.stringify = () => 'hijacked';
      Array.prototype.push = function evil() { return 0; };
      globalThis.counter = (globalThis.counter ?? 0) + 1;
      ctx.log(seen);
    `),
    check({ result }) {
      expect(report(ok(result).logs)).toEqual({ global: 'undefined', proto: 'undefined', json: '{"a":1}', push: 'push', counter: null });
    },
  },
  {
    // zod and the SDK are initialised once, in the snapshot every context is made from: what a
    // run does to its copy (module exports, prototypes, zod's global registry and config) must
    // not reach the next run's.
    name: "nothing one run does to zod or the SDK (exports, prototypes, zod's globals) is visible to the next",
    source: syncScript(`
      const sdk = __ferry_require('ferry/sdk');
      const seen = {
        string: z.string().parse('x'), object: z.object({ id: z.number() }).safeParse({ id: 1 }).success,
        registry: z.globalRegistry.has(z.string()) || globalThis.__zod_globalRegistry?.marked === true,
        config: globalThis.__zod_globalConfig?.marked ?? null, sdk: typeof sdk.createSync, sdkMark: sdk.marked ?? null,
      };
      z.string = () => { throw new Error('hijacked'); };
      Object.getPrototypeOf(z.object({})).safeParse = () => ({ success: false });
      globalThis.__zod_globalRegistry.marked = true;
      globalThis.__zod_globalConfig.marked = 'run state';
      try { sdk.marked = 'run state'; } catch {}
      try { sdk.createSync = null; } catch {}
      ctx.log(seen);
    `),
    check({ result }) {
      expect(report(ok(result).logs)).toEqual({ string: 'x', object: true, registry: false, config: null, sdk: 'function', sdkMark: null });
    },
  },
  {
    // The snapshot builds one schema of each common kind (runtime/worker/prelude/modules.ts), so
    // zod's classes and the shapes of their instances start out warmed up in every context: what
    // a run does to them (prototypes, constructors, a schema's parse) must stay in its own realm.
    name: "nothing one run does to zod's schema classes or their instances is visible to the next",
    source: syncScript(`
      const probe = z.object({ id: z.string(), count: z.number().optional(), tags: z.array(z.string()).nullable() });
      const seen = {
        parsed: probe.safeParse({ id: 'a', count: 1, tags: null }).success, rejected: probe.safeParse({ id: 1, tags: [] }).success,
        keys: Object.keys(probe.shape).join(','), objectMark: probe.leftBehind ?? null, optionalMark: z.string().optional().leftBehind ?? null,
        stringInit: typeof z.ZodString.init, enumParse: z.enum(['a', 'b']).safeParse('a').success,
      };
      z.ZodObject.prototype.leftBehind = 'run state';
      Object.getPrototypeOf(z.string().optional()).leftBehind = 'run state';
      z.ZodString.init = () => { throw new Error('hijacked'); };
      const kinds = [z.string(), z.number(), z.boolean(), z.enum(['a']), z.array(z.string()), z.record(z.string(), z.unknown())];
      for (const schema of kinds) Object.getPrototypeOf(schema).safeParse = () => ({ success: false, error: { issues: [] } });
      ctx.log(seen);
    `),
    check({ result }) {
      expect(report(ok(result).logs)).toEqual({ parsed: true, rejected: false, keys: 'id,count,tags', objectMark: null, optionalMark: null, stringInit: 'function', enumParse: true });
    },
  },
];

// ---- limits: each ends its run with a typed limit error --------------------------------------
const limitCase = (name: string, body: string, limits: Partial<Limits>, check: SandboxCase['check'], top = ''): SandboxCase => ({
  name,
  source: syncScript(body, top),
  limits,
  runs: 1,
  check,
});

export const LIMITS: SandboxCase[] = [
  limitCase('a heap blow-up ends with MEMORY, its limit and what was used', `ctx.log('allocating'); const keep = []; for (;;) keep.push(new Array(100000).fill(Math.random()));`, { memoryMb: 32 }, ({ result }) => {
    expectLimit(result, 'MEMORY', 32);
    expect(failed(result).used!).toBeGreaterThanOrEqual(32);
    expect(result.logs.map((l) => l.message)).toEqual(['allocating']);
  }),
  // After an await the script runs again from the host's answer to its call, not from the run's
  // own entry: V8's disposal then surfaces only as the run's promise "abandoned".
  limitCase('a heap blow-up after awaiting a host call ends with MEMORY, not INTERNAL', `await ctx.batchSave([{ id: 'first' }], 'A'); ctx.log('saved'); const keep = []; for (;;) keep.push(new Array(100000).fill(Math.random()));`, { memoryMb: 32 }, ({ result, recorded }) => {
    expectLimit(result, 'MEMORY', 32);
    expect(result.logs.map((l) => l.message)).toEqual(['saved']);
    expect(recorded.batches.map((b) => b.records.map((r) => r.id))).toEqual([['first']]);
  }),
  limitCase('typed arrays past the limit end with MEMORY', `const keep = []; for (;;) keep.push(new Uint8Array(4 * 1024 * 1024));`, { memoryMb: 32 }, ({ result }) => {
    expectLimit(result, 'MEMORY', 32);
  }),
  limitCase('ArrayBuffers allocated past a refusal (caught and retried) end with MEMORY', `const keep = []; for (;;) { try { keep.push(new ArrayBuffer(4 * 1024 * 1024)); } catch {} }`, { memoryMb: 32 }, ({ result }) => {
    expectLimit(result, 'MEMORY', 32);
  }),
  limitCase('SharedArrayBuffers past the limit end with MEMORY', `const keep = []; for (;;) { try { keep.push(new SharedArrayBuffer(4 * 1024 * 1024)); } catch {} }`, { memoryMb: 32 }, ({ result }) => {
    expectLimit(result, 'MEMORY', 32);
  }),
  limitCase('WebAssembly (whose memory the isolate limit cannot count) is not available at all', `
    const out = { type: typeof WebAssembly, own: Object.getOwnPropertyNames(globalThis).includes('WebAssembly') };
    try { new Function('return WebAssembly')(); out.viaFunction = 'found'; } catch { out.viaFunction = 'absent'; }
    ctx.log(JSON.stringify(out));`, {}, ({ result }) => {
    expect(report(ok(result).logs)).toEqual({ type: 'undefined', own: false, viaFunction: 'absent' });
  }),
  limitCase('a busy loop ends with CPU', `while (true) {}`, { cpuTimeMs: 300, wallTimeMs: 20_000 }, ({ result }) => {
    expectLimit(result, 'CPU', 300);
    expect(result.usage.cpuMs).toBeGreaterThanOrEqual(300);
  }),
  limitCase('a busy loop at the top level ends with CPU', `ctx.log('never');`, { cpuTimeMs: 300, wallTimeMs: 20_000 }, ({ result }) => {
    expectLimit(result, 'CPU', 300);
    expect(result.logs).toEqual([]);
  }, 'for (;;) {}'),
  limitCase('a catastrophic regex ends with CPU', `/^(a+)+$/.test('a'.repeat(40) + '!'); ctx.log('matched');`, { cpuTimeMs: 300, wallTimeMs: 20_000 }, ({ result }) => {
    expectLimit(result, 'CPU', 300);
  }),
  limitCase('deep recursion ends with STACK_OVERFLOW, carrying the stack size it used up', `const down = (n) => down(n + 1) + 1; down(0);`, {}, ({ result }) => {
    const stackKib = scriptStackKib()!;
    expect(stackKib).toBeGreaterThan(512);
    expectLimit(result, 'STACK_OVERFLOW', stackKib);
    expect(failed(result)).toMatchObject({ used: stackKib, message: `the call stack of ${stackKib} KiB overflowed (recursion too deep)` });
  }),
  limitCase('recursion that swallows its stack overflows and recurses again ends with CPU', `const f = () => { try { f(); } catch { f(); } }; f();`, { cpuTimeMs: 300, wallTimeMs: 20_000 }, ({ result }) => {
    expectLimit(result, 'CPU', 300);
  }),
  limitCase('a promise that never settles ends with WALL_TIME', `await new Promise(() => {});`, { wallTimeMs: 300 }, ({ result }) => {
    expectLimit(result, 'WALL_TIME', 300);
    expect(result.usage.wallMs).toBeGreaterThanOrEqual(300);
  }),
  limitCase('an async loop (for(;;) await null) ends with WALL_TIME', `for (;;) await null;`, { wallTimeMs: 300, cpuTimeMs: 20_000 }, ({ result }) => {
    expectLimit(result, 'WALL_TIME', 300);
  }),
  limitCase('an endless chain of timers ends with WALL_TIME', `await new Promise(() => { const tick = () => setTimeout(tick, 0); tick(); });`, { wallTimeMs: 300 }, ({ result }) => {
    expectLimit(result, 'WALL_TIME', 300);
  }),
  limitCase('Atomics.wait forever ends with WALL_TIME', `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);`, { wallTimeMs: 300 }, ({ result }) => {
    expectLimit(result, 'WALL_TIME', 300);
  }),
  // Room for the first proxied calls to complete on a loaded machine: the case is about the loop
  // ending, and proxyCalls > 0 shows it was the calls that kept it going.
  limitCase('an endless loop of proxied calls ends with WALL_TIME', `for (;;) await ctx.get({ endpoint: '/hello' });`, { wallTimeMs: 1500 }, ({ result }) => {
    expectLimit(result, 'WALL_TIME', 1500);
    expect(result.usage.proxyCalls).toBeGreaterThan(0);
  }),
];

export const ALL_HOSTILE = [...ESCAPES, ...WAY_OUT, ...CAPS_CASES, ...LEFTOVERS, ...LIMITS];
