/**
 * The Node built-ins Nango's runner gives scripts — the `Buffer` global and `buffer`, `crypto`
 * (hashes, HMAC, random bytes, UUIDs) and `url` — run unmodified in Ferry's isolate, bundled
 * into the scripts that use them (cli/node-shims.ts): the same bytes and digests as Node's own,
 * for a script run by ferry/testing against a real local HTTP server. A bundle that names none of
 * them carries none of them; `ferry compile` type-checks them and still refuses what the isolate
 * cannot have (fs, a crypto function it lacks), by name.
 */
import { createHash, createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { bundleScript } from '../../cli/bundle.ts';
import { createScriptTester, liveProxy } from '../../testing/index.ts';

const REPO = resolve(import.meta.dirname, '../..');
/** What the provider answers: text with multi-byte characters, and bytes that are not UTF-8. */
const TEXT = 'Grüße — naïve café ☕ 𝄞';
const BYTES = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256);
/** A JWT-shaped token whose claims encode to both of base64url's own characters, `-` and `_`. */
const CLAIMS = { sub: '~~~?', name: TEXT, exp: 1_900_000_000 };
const ID_TOKEN = [{ alg: 'HS256', typ: 'JWT' }, CLAIMS].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + '.sig';

const ACTION = `
import { createAction } from 'nango';
import crypto, { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual, getHashes } from 'node:crypto';
import { Buffer as ImportedBuffer } from 'buffer';
import * as url from 'url';
import { z } from 'zod';

export default createAction({
  description: 'Node built-ins, as Nango scripts use them',
  input: z.object({}),
  output: z.record(z.string(), z.unknown()),
  exec: async (nango) => {
    const { data } = await nango.get({ endpoint: '/payload' });
    const bytes = Buffer.from(data.bytes, 'base64');
    const text = Buffer.from(data.text_b64, 'base64').toString('utf8');
    const hashes = {};
    for (const algorithm of ['md5', 'sha1', 'sha256', 'SHA-512', 'sha384', 'sha224']) {
      hashes[algorithm] = createHash(algorithm).update(text).update(bytes).digest('hex');
    }
    const random = randomBytes(70000);
    let twice = 'no error';
    const used = createHash('sha256');
    used.digest();
    try { used.digest(); } catch (error) { twice = error.message; }
    let unknown = 'no error';
    try { createHash('whirlpool'); } catch (error) { unknown = error.message; }
    return {
      text,
      byteLength: Buffer.byteLength(text),
      hex: bytes.toString('hex'),
      binary: Buffer.from(text, 'utf8').toString('binary').length,
      base64url: createHash('sha256').update(text).digest('base64url'),
      latin1: Buffer.from([0xe9, 0x41]).toString('latin1'),
      concat: Buffer.concat([Buffer.from('ab'), ImportedBuffer.from([0x63])]).toString(),
      uint32: bytes.readUInt32BE(4),
      isBuffer: [Buffer.isBuffer(bytes), Buffer.isBuffer('x'), bytes instanceof Uint8Array],
      json: JSON.parse(JSON.stringify(Buffer.from('hi'))),
      hashes,
      digestBase64: crypto.createHash('sha256').update(bytes).digest('base64'),
      hmac: createHmac('sha256', 'secret-key').update(text).digest('hex'),
      hmacBufferKey: createHmac('sha1', Buffer.from('k3y')).update(bytes).digest('base64'),
      randomLength: random.length,
      randomDistinct: new Set(random.subarray(0, 1000)).size > 200,
      uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(randomUUID()),
      safeEqual: [timingSafeEqual(Buffer.from('abc'), Buffer.from('abc')), timingSafeEqual(Buffer.from('abc'), Buffer.from('abd'))],
      hashesListed: getHashes(),
      twice,
      unknown,
      url: new url.URL('/a?b=1', 'https://example.com').href + ' ' + new url.URLSearchParams({ q: 'x y' }).toString(),
      sameUrl: url.URL === URL,
      noProcess: typeof process,
      // OAuth and JWT code: Node's base64url, both ways.
      claims: JSON.parse(Buffer.from(data.id_token.split('.')[1], 'base64url').toString('utf8')),
      textBase64url: Buffer.from(text).toString('base64url'),
      rangeBase64url: Buffer.from(text).toString('base64url', 2, 9),
      bytesBase64url: bytes.toString('base64url'),
      roundTrip: Buffer.from(bytes.toString('base64url'), 'base64url').equals(bytes),
      urlByteLength: Buffer.byteLength(bytes.toString('base64url'), 'base64url'),
      isUrlEncoding: [Buffer.isEncoding('base64url'), Buffer.isEncoding('BASE64URL'), Buffer.isEncoding('base65')],
      written: (() => { const b = Buffer.alloc(4); const n = b.write('_-8', 'base64url'); return [n, b.toString('hex')]; })(),
      filled: Buffer.alloc(5, '_-8', 'base64url').toString('hex'),
      signature: createHmac('sha256', 'secret-key').update(data.id_token.split('.').slice(0, 2).join('.')).digest('base64url'),
      hashOfUrlInput: createHash('sha1').update(data.id_token.split('.')[1], 'base64url').digest('hex'),
    };
  },
});
`;

let provider: Server;
let baseUrl: string;
let dir: string;
const tester = createScriptTester();

beforeAll(async () => {
  provider = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url !== '/payload') {
      res.statusCode = 404;
      res.end('{}');
      return;
    }
    res.end(JSON.stringify({ bytes: Buffer.from(BYTES).toString('base64'), text_b64: Buffer.from(TEXT).toString('base64'), id_token: ID_TOKEN }));
  });
  await new Promise<void>((ok) => provider.listen(0, '127.0.0.1', ok));
  baseUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'ferry-node-shims-'));
  await mkdir(join(dir, 'scripts/acme/actions'), { recursive: true });
  await writeFile(join(dir, 'scripts/acme/actions/builtins.ts'), ACTION);
});

afterAll(async () => {
  await tester.close();
  await new Promise((done) => provider?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("Buffer, crypto and url in the isolate give what Node's own give", async () => {
  const run = await tester.run({ script: join(dir, 'scripts/acme/actions/builtins.ts'), input: {}, proxy: liveProxy({ baseUrl }) });
  expect(run.error).toBeUndefined();
  const bytes = Buffer.from(BYTES);
  const hash = (algorithm: string) => createHash(algorithm).update(TEXT).update(bytes).digest('hex');
  expect(run.output).toEqual({
    text: TEXT,
    byteLength: Buffer.byteLength(TEXT),
    hex: bytes.toString('hex'),
    binary: Buffer.from(TEXT, 'utf8').toString('binary').length,
    base64url: createHash('sha256').update(TEXT).digest('base64url'),
    latin1: 'éA',
    concat: 'abc',
    uint32: bytes.readUInt32BE(4),
    isBuffer: [true, false, true],
    json: { type: 'Buffer', data: [104, 105] },
    hashes: { md5: hash('md5'), sha1: hash('sha1'), sha256: hash('sha256'), 'SHA-512': hash('sha512'), sha384: hash('sha384'), sha224: hash('sha224') },
    digestBase64: createHash('sha256').update(bytes).digest('base64'),
    hmac: createHmac('sha256', 'secret-key').update(TEXT).digest('hex'),
    hmacBufferKey: createHmac('sha1', Buffer.from('k3y')).update(bytes).digest('base64'),
    randomLength: 70000,
    randomDistinct: true,
    uuid: true,
    safeEqual: [true, false],
    hashesListed: ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'],
    twice: 'Digest already called',
    unknown: expect.stringContaining('Digest method not supported: whirlpool'),
    url: 'https://example.com/a?b=1 q=x+y',
    sameUrl: true,
    noProcess: 'undefined',
    claims: CLAIMS,
    textBase64url: Buffer.from(TEXT).toString('base64url'),
    rangeBase64url: Buffer.from(TEXT).toString('base64url', 2, 9),
    bytesBase64url: bytes.toString('base64url'),
    roundTrip: true,
    urlByteLength: Buffer.byteLength(bytes.toString('base64url'), 'base64url'),
    isUrlEncoding: [true, true, false],
    written: (() => { const b = Buffer.alloc(4); const n = b.write('_-8', 'base64url'); return [n, b.toString('hex')]; })(),
    filled: Buffer.alloc(5, '_-8', 'base64url').toString('hex'),
    signature: createHmac('sha256', 'secret-key').update(ID_TOKEN.split('.').slice(0, 2).join('.')).digest('base64url'),
    hashOfUrlInput: createHash('sha1').update(ID_TOKEN.split('.')[1]!, 'base64url').digest('hex'),
  });
  // Both alphabets' own characters were exercised, so a base64 answer could not pass for base64url.
  expect(ID_TOKEN).toMatch(/-/);
  expect(ID_TOKEN).toMatch(/_/);
}, 60_000);

test('a bundle carries the buffer package only when the script names Buffer', async () => {
  const write = async (name: string, body: string, imports = '') => {
    const file = join(dir, `scripts/acme/actions/${name}.ts`);
    await writeFile(file, `import { createAction } from 'nango';\n${imports}\nexport default createAction({ description: '${name}', exec: async () => { ${body} } });\n`);
    return (await bundleScript(file, { root: dir })).code;
  };
  // ieee754's read/write code is part of the buffer package: present exactly when Buffer is.
  const marker = /ieee754|readFloatLE/;
  expect(await write('plain', "return { text: btoa('x') };")).not.toMatch(marker);
  expect(await write('global', "return { text: Buffer.from('x').toString('base64') };")).toMatch(marker);
  expect(await write('url-only', "return { q: new URLSearchParams({ a: '1' }).toString() };", "import { URLSearchParams } from 'url';")).not.toMatch(marker);
});

test('ferry compile checks the provided built-ins and still refuses the rest, by name', async () => {
  const project = join(dir, 'compile');
  await mkdir(join(project, 'scripts/acme/actions'), { recursive: true });
  const write = (name: string, lines: string[]) => writeFile(join(project, `scripts/acme/actions/${name}.ts`), lines.join('\n'));
  await write('fine', [
    "import { createAction } from 'nango';",
    "import { createHash } from 'crypto';",
    "import { URLSearchParams } from 'url';",
    "import { z } from 'zod';",
    "export default createAction({ description: 'fine', input: z.object({}), output: z.object({ h: z.string(), q: z.string() }),",
    "  exec: async () => ({ h: createHash('md5').update(Buffer.from('x')).digest('hex'), q: new URLSearchParams({ a: '1' }).toString() }) });",
  ]);
  const compile = () => promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), 'compile', '--dir', join(project, 'scripts')], { cwd: project }).then(
    (done) => ({ code: 0, output: done.stdout + done.stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
  );
  const fine = await compile();
  expect(fine.output).not.toMatch(/error|TS\d+/i);
  expect(fine.code).toBe(0);

  await write('signs', [
    "import { createAction } from 'nango';",
    "import { createSign } from 'crypto';",
    "import { z } from 'zod';",
    "export default createAction({ description: 'signs', input: z.object({}), output: z.object({}), exec: async () => { createSign('RSA-SHA256'); return {}; } });",
  ]);
  await write('reads-files', [
    "import { createAction } from 'nango';",
    "import { readFileSync } from 'fs';",
    "import { z } from 'zod';",
    "export default createAction({ description: 'reads', input: z.object({}), output: z.object({ text: z.string() }), exec: async () => ({ text: readFileSync('/etc/hostname', 'utf8') }) });",
  ]);
  const refused = await compile();
  expect(refused.code).not.toBe(0);
  // What the isolate's crypto lacks is named, with what it has.
  expect(refused.output).toMatch(/scripts\/acme\/actions\/signs\.ts:2:10 TS2614: Module '"crypto"' has no exported member 'createSign'[^\n]*\n\s*fix: Ferry's isolate has crypto's createHash, createHmac/);
  expect(refused.output).toMatch(/scripts\/acme\/actions\/reads-files\.ts:2:30 TS2307: Cannot find module 'fs'[^\n]*\n\s*fix: fs is a Node built-in/);
  expect(refused.output).toMatch(/\b2 type error\(s\)/);
}, 120_000);
