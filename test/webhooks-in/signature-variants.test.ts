/**
 * Hostile signatures on incoming provider webhooks, through a whole host over raw HTTP (node:http,
 * so a header can repeat and keep the case it was written in): for each HMAC scheme Ferry
 * verifies (algorithm × encoding × prefix), a missing, empty, repeated, cut, padded, non-hex,
 * other-encoding or other-algorithm signature, a body altered after signing, a body over the
 * request cap, and a body that is not JSON are each a 4xx with the JSON error shape and queue no
 * delivery; the genuine signature is still accepted, whatever the header name's case or the
 * content-type, and hex in either case.
 */
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WEBHOOK_QUEUE } from '../../host/webhooks-in/index.ts';
import { startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const SECRET = 'whsec_variants_0123456789';

interface Scheme { provider: string; header: string; algorithm: 'sha1' | 'sha256' | 'sha512'; encoding: 'hex' | 'base64'; prefix: string }
const SCHEMES: Scheme[] = [
  { provider: 'hexp', header: 'X-Hub-Signature-256', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=' },
  { provider: 'b64p', header: 'X-Shop-Hmac', algorithm: 'sha256', encoding: 'base64', prefix: '' },
  { provider: 'sha1p', header: 'X-Hub-Signature', algorithm: 'sha1', encoding: 'hex', prefix: 'sha1=' },
  { provider: 'sha512p', header: 'X-Signature', algorithm: 'sha512', encoding: 'base64', prefix: 'v1=' },
];

let ferry: TestFerry;

beforeAll(async () => {
  ferry = await startTestFerry();
  for (const s of SCHEMES) {
    const put = await ferry.api.put(`/providers/${s.provider}/webhook`, {
      signature_header: s.header, algorithm: s.algorithm, encoding: s.encoding, signature_prefix: s.prefix, secret: SECRET, connection_id_path: 'account',
    });
    expect(put.status).toBe(200);
  }
}, 60_000);
afterAll(async () => {
  await ferry?.close();
});

const digest = (s: Scheme, body: string | Buffer, encoding: 'hex' | 'base64' = s.encoding, algorithm = s.algorithm) =>
  createHmac(algorithm, SECRET).update(body).digest(encoding);
const sign = (s: Scheme, body: string | Buffer) => s.prefix + digest(s, body);

interface Answer { status: number; contentType: string; body: string }

/** POSTs raw: `headers` is flat [name, value, …] as written on the wire (a name may repeat). */
function post(path: string, headers: string[], body: string | Buffer, chunked = false): Promise<Answer> {
  const { hostname, port } = new URL(ferry.url);
  return new Promise((resolve, reject) => {
    // Headers given as a list get no defaults: the Host header Node's server requires is ours to send.
    const all = ['host', `${hostname}:${port}`, ...headers, ...(chunked ? [] : ['content-length', String(Buffer.byteLength(body))])];
    const req = request({ host: hostname, port, method: 'POST', path, agent: false, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A server that answers before reading a huge body may close the socket under the upload.
    req.on('error', reject);
    req.end(body);
  });
}

async function queuedDeliveries(): Promise<number> {
  const [row] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from pgboss.job where name = ${WEBHOOK_QUEUE}`;
  return row!.n;
}

function expectRefused(answer: Answer, status: number, code: string, what: string) {
  expect(answer.status, `${what}: ${answer.body}`).toBe(status);
  expect(answer.contentType, what).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
  expect(body.error.code, what).toBe(code);
  expect(typeof body.error.message, what).toBe('string');
}

describe.each(SCHEMES)('the $algorithm/$encoding scheme (prefix "$prefix")', (s) => {
  const path = `/webhooks/dev/${s.provider}`;
  const payload = JSON.stringify({ type: 'contact.updated', account: 'nobody', n: 1 });
  const json = ['content-type', 'application/json'];

  test('refuses every forged, malformed or misplaced signature with a JSON 4xx and queues nothing', async () => {
    const genuine = sign(s, payload);
    const raw = digest(s, payload);
    const other = s.encoding === 'hex' ? 'base64' : 'hex';
    // The first digit: in base64 the last one before '=' also carries padding bits.
    const flipped = (raw[0] === 'a' ? 'b' : 'a') + raw.slice(1);
    const variants: Array<[string, string[]]> = [
      ['no signature header', json],
      ['an empty signature', [...json, s.header, '']],
      ['only whitespace', [...json, s.header, '   ']],
      ['the prefix alone', [...json, s.header, s.prefix]],
      ['the genuine signature twice (two header lines)', [...json, s.header, genuine, s.header, genuine]],
      ['a forged one before the genuine one', [...json, s.header, s.prefix + digest(s, 'other'), s.header, genuine]],
      ['the genuine one before a forged one', [...json, s.header, genuine, s.header, s.prefix + digest(s, 'other')]],
      ['both in one header, comma-joined', [...json, s.header, `${genuine},${genuine}`]],
      ['one character short', [...json, s.header, genuine.slice(0, -1)]],
      ['one character more', [...json, s.header, `${genuine}0`]],
      ['one digit changed', [...json, s.header, s.prefix + flipped]],
      ['not hex / not base64, of the right length', [...json, s.header, s.prefix + 'z'.repeat(raw.length)]],
      [`the right digest in ${other}`, [...json, s.header, s.prefix + digest(s, payload, other)]],
      ['the right digest without its prefix, or with another', [...json, s.header, s.prefix === '' ? `sha256=${raw}` : raw]],
      ['the digest of another algorithm', [...json, s.header, s.prefix + digest(s, payload, s.encoding, s.algorithm === 'sha1' ? 'sha256' : 'sha1')]],
      ['another secret', [...json, s.header, s.prefix + createHmac(s.algorithm, `${SECRET}x`).update(payload).digest(s.encoding)]],
      ['latin-1 bytes', [...json, s.header, s.prefix + '\u00e9'.repeat(raw.length)]],
      ['a huge signature', [...json, s.header, s.prefix + 'a'.repeat(8_000)]],
    ];
    const before = await queuedDeliveries();
    for (const [what, headers] of variants) expectRefused(await post(path, headers, payload), 401, 'INVALID_SIGNATURE', what);
    // The signature is of the bytes as sent: a body altered or re-serialised after signing is refused.
    const altered = payload.replace('"n":1', '"n":2');
    expectRefused(await post(path, [...json, s.header, genuine], altered), 401, 'INVALID_SIGNATURE', 'a body altered after signing');
    expectRefused(await post(path, [...json, s.header, genuine], JSON.stringify(JSON.parse(payload), null, 1)), 401, 'INVALID_SIGNATURE', 're-serialised');
    expectRefused(await post(path, [...json, s.header, genuine], `${payload}\n`), 401, 'INVALID_SIGNATURE', 'a trailing newline');
    // A genuine signature does not make a body that is not JSON a delivery.
    const form = 'type=contact.updated&account=nobody';
    expectRefused(await post(path, ['content-type', 'application/x-www-form-urlencoded', s.header, sign(s, form)], form), 400, 'INVALID_JSON', 'a signed form body');
    // Over the request cap (8 MiB), signed or not, declared or chunked: 413 before any HMAC.
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x20);
    huge.write('{"account":"nobody","pad":"', 0);
    huge.write('"}', huge.length - 2);
    expectRefused(await post(path, [...json, s.header, sign(s, huge)], huge), 413, 'PAYLOAD_TOO_LARGE', 'a signed body over the cap');
    expectRefused(await post(path, [...json, 'transfer-encoding', 'chunked', s.header, sign(s, huge)], huge, true), 413, 'PAYLOAD_TOO_LARGE', 'a chunked body over the cap');
    expect(await queuedDeliveries()).toBe(before);
    expect((await ferry.api.get('/healthz')).status).toBe(200);
  }, 120_000);

  test('accepts the genuine signature whatever the header name\'s case or the content-type, hex in either case', async () => {
    const genuine = sign(s, payload);
    const accepted: Array<[string, string[]]> = [
      ['as configured', ['content-type', 'application/json', s.header, genuine]],
      ['header name in upper case', ['content-type', 'application/json', s.header.toUpperCase(), genuine]],
      ['header name in lower case', ['content-type', 'application/json', s.header.toLowerCase(), genuine]],
      ['text/plain', ['content-type', 'text/plain', s.header, genuine]],
      ['no content-type', [s.header, genuine]],
      ['spaces around the value', ['content-type', 'application/json', s.header, `  ${genuine}  `]],
      ...(s.encoding === 'hex' ? [['hex digits in upper case', ['content-type', 'application/json', s.header, s.prefix + digest(s, payload).toUpperCase()]] as [string, string[]]] : []),
    ];
    const before = await queuedDeliveries();
    for (const [what, headers] of accepted) {
      const answer = await post(path, headers, payload);
      expect(answer.status, `${what}: ${answer.body}`).toBe(202);
      expect(JSON.parse(answer.body)).toMatchObject({ accepted: true });
    }
    expect(await queuedDeliveries()).toBe(before + accepted.length);
  }, 60_000);
});
