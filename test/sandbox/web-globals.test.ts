/**
 * The web globals of the isolate (URL, URLSearchParams, TextEncoder/TextDecoder, atob/btoa,
 * structuredClone, AbortController/AbortSignal/EventTarget, crypto, DOMException) against Node's
 * own: each case runs in a real run's isolate and natively here, and the results must be equal.
 */
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { createRuntime } from '../../runtime/index.ts';
import { bundle, job, recordingBridge } from '../runtime/helpers.ts';

/** Each case is an expression (it may await); its value is compared as JSON, a throw by its error's name. */
const CASES: Record<string, string> = {
  urlParts: `(() => { const u = new URL('HTTPS://user:p%40ss@Example.COM:443/a/./b/../c?x=1&y=%20&x=2#frag'); return [u.href, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin]; })()`,
  urlRelative: `[new URL('../d?q', 'https://a.example/b/c/').href, new URL('//other.example/x', 'https://a.example').href, new URL('?only', 'https://a.example/p').href]`,
  urlIpv6AndPort: `[new URL('http://[::1]:8080/').host, new URL('http://example.com:80/').port, new URL('ws://h:81').origin]`,
  urlIdna: `[new URL('https://münchen.de/straße').href, new URL('https://EXAMPLE.com./').hostname]`,
  urlInvalid: `new URL('not a url')`,
  urlInvalidBase: `new URL('/x', 'relative')`,
  urlCanParse: `[URL.canParse('https://a'), URL.canParse('nope'), URL.canParse('/p', 'https://a')]`,
  urlSetters: `(() => { const u = new URL('https://a.example/p'); u.pathname = '/q r'; u.searchParams.set('k', 'v w'); u.hash = 'h'; u.port = '8443'; return [u.href, String(u), JSON.stringify({ u })]; })()`,
  urlSearchParamsLive: `(() => { const u = new URL('https://a.example/?a=1&b=2&a=3'); u.searchParams.delete('b'); u.searchParams.append('c', '&='); return [u.search, u.searchParams.getAll('a'), u.searchParams.size]; })()`,
  searchParamsInit: `[new URLSearchParams('?a=1&a=2&b=%20+x').toString(), new URLSearchParams({ q: 'a b', e: 'é&' }).toString(), new URLSearchParams([['x', '1'], ['y', '2']]).toString()]`,
  searchParamsSortIterate: `(() => { const p = new URLSearchParams('z=1&a=2&m=3&a=1'); p.sort(); return [[...p], [...p.keys()], [...p.values()], p.has('m'), p.get('none')]; })()`,
  textEncode: `Array.from(new TextEncoder().encode('aé€😀\\ud800x'))`,
  textEncodeInto: `(() => { const d = new Uint8Array(5); const r = new TextEncoder().encodeInto('a€😀', d); return [r.read, r.written, Array.from(d)]; })()`,
  textDecode: `new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]))`,
  textDecodeInvalid: `new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98, 0x62, 0xed, 0xa0, 0x80]))`,
  textDecodeFatal: `new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xc3]))`,
  textDecodeIgnoreBom: `new TextDecoder('utf8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length`,
  textDecodeStream: `(() => { const d = new TextDecoder(); const bytes = new TextEncoder().encode('€😀'); let s = ''; for (const b of bytes) s += d.decode(new Uint8Array([b]), { stream: true }); return s + d.decode(); })()`,
  textDecodeView: `new TextDecoder().decode(new Uint8Array([0x78, 0x61, 0x62, 0x79]).subarray(1, 3))`,
  textDecoderLabel: `new TextDecoder('no-such-encoding')`,
  base64: `[btoa('hello world'), atob('aGVsbG8gd29ybGQ='), atob(' aGVs bG8 '), atob('aGVsbG8'), btoa(String.fromCharCode(0, 255, 128))]`,
  btoaOutOfRange: `btoa('€')`,
  atobInvalid: `atob('a===')`,
  cloneValues: `(() => { const o = { d: new Date(5), r: /x+/gi, m: new Map([[1, { a: 1 }]]), s: new Set(['x']), t: new Uint16Array([1, 2]), n: null, u: undefined, big: 10n }; o.self = o; const c = structuredClone(o); return [c !== o, c.self === c, c.d.getTime(), c.r.source + c.r.flags, c.m.get(1).a, [...c.s], Array.from(c.t), c.t instanceof Uint16Array, 'u' in c, c.big === 10n]; })()`,
  cloneError: `(() => { const e = structuredClone(new RangeError('boom')); return [e instanceof RangeError, e.message]; })()`,
  cloneFunction: `structuredClone({ f() {} })`,
  domException: `(() => { const e = new DOMException('m', 'NotFoundError'); return [e.name, e.message, e.code, e instanceof Error]; })()`,
  abortController: `(() => { const c = new AbortController(); const seen = []; c.signal.onabort = (e) => seen.push('on:' + e.type); c.signal.addEventListener('abort', (e) => seen.push(e.type + ':' + (e.target === c.signal)), { once: true }); c.abort('why'); c.abort('again'); return [c.signal.aborted, c.signal.reason, seen]; })()`,
  abortDefaultReason: `(() => { const c = new AbortController(); c.abort(); return [c.signal.reason.name, c.signal.reason instanceof DOMException]; })()`,
  abortThrowIfAborted: `AbortSignal.abort(new TypeError('t')).throwIfAborted()`,
  abortSignalAny: `(() => { const a = new AbortController(); const b = new AbortController(); const any = AbortSignal.any([a.signal, b.signal]); b.abort('b'); return [any.aborted, any.reason, a.signal.aborted]; })()`,
  abortSignalTimeout: `new Promise((resolve) => { const s = AbortSignal.timeout(5); s.addEventListener('abort', () => resolve([s.aborted, s.reason.name])); })`,
  abortSignalIllegal: `new AbortSignal()`,
  eventTarget: `(() => { const t = new EventTarget(); const seen = []; const l = (e) => seen.push(e.type); t.addEventListener('x', l); t.addEventListener('x', l); t.dispatchEvent(new Event('x')); t.removeEventListener('x', l); t.dispatchEvent(new Event('x')); const ev = new Event('y', { cancelable: true }); t.addEventListener('y', (e) => e.preventDefault()); return [seen, t.dispatchEvent(ev), ev.defaultPrevented]; })()`,
  cryptoUuid: `(() => { const a = crypto.randomUUID(); const b = crypto.randomUUID(); return [/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(a), a !== b]; })()`,
  cryptoRandomValues: `(() => { const a = crypto.getRandomValues(new Uint32Array(64)); const same = crypto.getRandomValues(new Uint8Array(0)); return [a.length, new Set(a).size > 60, same.length]; })()`,
  cryptoQuota: `crypto.getRandomValues(new Uint8Array(65537))`,
  cryptoFloat: `crypto.getRandomValues(new Float32Array(2))`,
};

const body = `
  const out = {};
  for (const [name, source] of Object.entries(input)) {
    try { out[name] = { value: await (0, eval)(source) }; }
    catch (error) { out[name] = { threw: error && error.name }; }
  }
  return JSON.parse(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
`;

async function natively(): Promise<Record<string, unknown>> {
  const run = new Function('input', `return (async () => { ${body} })();`) as (input: unknown) => Promise<Record<string, unknown>>;
  return run(CASES);
}

const runtime = createRuntime({ workers: 1, logger: createLogger({ name: 'test', level: 'silent' }) });
afterAll(async () => (await runtime).close());

test('each web global behaves in the isolate as it does in Node (WHATWG/HTML/DOM/Web Crypto)', async () => {
  const code = await bundle(`
    import { createAction } from 'ferry/sdk';
    export default createAction({ description: 'globals', exec: async (ctx, input) => { ${body} } });
  `);
  const result = await (await runtime).run(job(code, { kind: 'action', input: CASES }), recordingBridge().bridge);
  if (!result.ok) throw new Error(result.error.message);
  const expected = await natively();
  expect(result.output).toEqual(expected);
  // The cases that must throw do throw (a case that silently passes both sides would prove nothing).
  expect(Object.keys(expected).filter((n) => 'threw' in (expected[n] as object)).sort()).toEqual(
    ['abortSignalIllegal', 'abortThrowIfAborted', 'atobInvalid', 'btoaOutOfRange', 'cloneFunction', 'cryptoFloat', 'cryptoQuota', 'textDecodeFatal', 'textDecoderLabel', 'urlInvalid', 'urlInvalidBase'],
  );
});

test("the polyfills leave nothing of their own on the script's global object", async () => {
  const code = await bundle(`
    import { createAction } from 'ferry/sdk';
    export default createAction({ description: 'globals', exec: async () => Object.getOwnPropertyNames(globalThis).filter((n) => !/^[A-Z]/.test(n)).sort() });
  `);
  const result = await (await runtime).run(job(code, { kind: 'action', input: {} }), recordingBridge().bridge);
  if (!result.ok) throw new Error(result.error.message);
  const names = result.output as string[];
  expect(names.filter((n) => n.startsWith('__')).sort()).toEqual(['__ferry_module', '__ferry_require']);
  for (const name of ['atob', 'btoa', 'structuredClone', 'crypto', 'console', 'setTimeout', 'queueMicrotask']) expect(names).toContain(name);
});
