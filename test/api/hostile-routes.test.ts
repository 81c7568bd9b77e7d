/**
 * Hostile input to every route a host serves, against a real host process (`node host/main.ts`,
 * as `ferry-server` runs) on real Postgres. The routes are read from the app itself (the API and
 * the dashboard, as host/http-app.ts mounts them), so a new route is covered without editing
 * this file, and the test fails for a route none of whose hostile requests reached it.
 *
 * Each route gets, as fits its method and path: bad Authorization headers (none, empty, huge,
 * another scheme, non-ASCII, two of them), path segments that are huge or hold %00, `..`, bad
 * percent-encoding, surrogates or numbers out of range, query parameters that are negative,
 * huge, NaN, NUL, repeated or unknown, and bodies that are not JSON, not declared as JSON, of the
 * wrong shape or types (per its OpenAPI schema), huge, deeply nested, or holding NUL and lone
 * surrogates. No answer is a 5xx; every API error is the JSON error shape naming what was wrong;
 * the process stays up and answers /healthz.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApi, ROUTE_SPECS, type ApiDeps } from '../../host/api/app.ts';
import { registeredRoutes } from '../../host/api/openapi/index.ts';
import { createHttpApp } from '../../host/http-app.ts';
import { createLogger } from '../../host/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, waitFor, type ApiClient } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
const KEY = 'fsk_hostile_routes_key_0123456789';

let db: TestDatabase;
let host: ChildProcess;
let hostOutput = '';
let url: string;
let api: ApiClient;
let sessionCookie = '';

beforeAll(async () => {
  db = await createTestDatabase();
  host = spawn(process.execPath, [join(REPO, 'host/main.ts')], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: db.url, FERRY_SECRET_KEY: KEY, FERRY_PORT: '0', FERRY_LOG_LEVEL: 'warn', FERRY_RUNTIME_WORKERS: '1' },
  });
  host.stdout!.on('data', (d) => { hostOutput += d; });
  host.stderr!.on('data', (d) => { hostOutput += d; });
  url = await waitFor('the host process to listen', async () => {
    if (host.exitCode !== null) throw new Error(`the host exited with ${host.exitCode}: ${hostOutput}`);
    return /Ferry is running at (http:\/\/[\d.:]+)/.exec(hostOutput)?.[1];
  }, 150_000); // migrations and start-up of a whole process, at load averages of 40
  api = createApiClient(url, KEY);
  // Something for routes to find, so requests get past "not found" into validation.
  expect((await api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await api.post('/connections', { connection_id: 'real', provider: 'plain' })).status).toBe(201);
  const signIn = await fetch(`${url}/dashboard/sign-in`, { method: 'POST', headers: { origin: url }, body: new URLSearchParams({ key: KEY }), redirect: 'manual' });
  sessionCookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  expect(sessionCookie).not.toBe('');
}, 240_000);

afterAll(async () => {
  if (host && host.exitCode === null) {
    const exited = new Promise((done) => host.once('exit', done));
    host.kill('SIGTERM');
    await exited;
  }
  await db?.drop();
});

/** The routes the host serves, read from the app as the host builds it (no dependency is touched). */
function servedRoutes() {
  const inert = new Proxy({ logger: createLogger({ level: 'silent' }) } as Record<string | symbol, unknown>, {
    get: (target, key) => (key in target ? target[key] : () => { throw new Error(`dependency ${String(key)} used while building the app`); }),
  });
  return registeredRoutes(createHttpApp(createApi(inert as unknown as ApiDeps), createLogger({ level: 'silent' })));
}

interface HostileRequest {
  category: 'auth' | 'path' | 'query' | 'body';
  what: string;
  method: string;
  path: string;
  /** Flat [name, value, name, value…], so a header may repeat. */
  headers: string[];
  body?: string | Buffer;
  /** The route reads a JSON body and this one is malformed: anything but a 4xx is wrong. */
  mustRefuse: boolean;
  /** A query parameter the route does not take: only a 400 naming it is right. */
  unknownParameter?: string;
}

interface Outcome { request: HostileRequest; status: number; contentType: string; body: string }

/** node:http on a fresh connection per request: one request's fate cannot leak into another's socket. */
function send(request: HostileRequest): Promise<Outcome> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    // A flat header list gets no Host from node:http, and a request without one is refused before any route.
    const headers = ['host', `${hostname}:${port}`, ...request.headers];
    if (request.body !== undefined) headers.push('content-length', String(Buffer.byteLength(request.body)));
    const req = httpRequest({ host: hostname, port, method: request.method, path: request.path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ request, status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => done({ request, status: 599, contentType: '', body: `response failed: ${err.message}` }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (err) => done({ request, status: 599, contentType: '', body: `connection failed: ${err.message}` }));
    req.end(request.body);
  });
}

/** Runs `tasks` a few at a time: the host shares the machine with other test files. */
async function inBatches<T>(tasks: Array<() => Promise<T>>, width = 6): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += width) results.push(...(await Promise.all(tasks.slice(i, i + width).map((t) => t()))));
  return results;
}

const PARAM = /:([A-Za-z0-9_]+)(\{(?:[^{}]|\{[^{}]*\})*\})?/g;
/** Values that get a request to a route's handler: ids that exist (or parse) for each param. */
const GOOD_PARAMS: Record<string, string> = { id: 'real', name: 'plain', connection: 'real', connection_id: 'real', version: '1', environment: 'dev', provider: 'plain', variant: 'v1', model: 'Item', file: 'app.css' };
const goodParam = (route: string, name: string) => (name === 'id' && !route.startsWith('/connections') ? '1' : GOOD_PARAMS[name] ?? 'real');
const fill = (route: string, value: (name: string) => string) => route.replace(PARAM, (_, name: string) => value(name));

const BAD_SEGMENTS = ['x'.repeat(8_000), '%00', 'a%00b', '..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%E0%A4%A', '%ED%A0%80', '%F0%9F%92%A9', '-1', '1e400', 'NaN', '99999999999999999999', '%20'];
const BAD_NUMBERS = ['-1', '-0', '1e400', 'NaN', 'Infinity', '0x10', '99999999999999999999', '1.5', ''];
const BAD_TEXT = ['%00', 'a%00b', '%ED%A0%80', '%E0%A4%A', 'x'.repeat(6_000), '%E2%80%AE%F0%9F%92%A9'];
const BAD_AUTH: Array<[string, string[]]> = [
  ['no Authorization', []],
  ['an empty Bearer', ['authorization', 'Bearer']],
  ['Bearer and spaces', ['authorization', 'Bearer    ']],
  ['another scheme', ['authorization', 'Basic Zm9vOmJhcg==']],
  ['a huge key', ['authorization', `Bearer ${'k'.repeat(12_000)}`]],
  ['a non-ASCII key', ['authorization', 'Bearer fsk_\u00e9\u00ff']],
  ['a wrong key', ['authorization', 'Bearer fsk_not_a_key_0123456789']],
  ['two Authorization headers', ['authorization', 'Bearer fsk_not_a_key_0123456789', 'authorization', `Bearer ${KEY}`]],
  ['a key with a comma list', ['authorization', `Bearer ${KEY}, Bearer other`]],
];
const JSON_TYPE = ['content-type', 'application/json'];
const NOT_JSON_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/html', 'application/json; charset=utf-16', ';;;', 'application/octet-stream'];
const DEEP = (n: number) => `${'{"d":['.repeat(n)}1${']}'.repeat(n)}`;

/** A value of another JSON type than the schema says, for the wrong-types bodies. */
function wrongValue(schema: any): unknown {
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  switch (type) {
    case 'string': return 12345;
    case 'number': case 'integer': return 'NaN';
    case 'boolean': return 'yes';
    case 'array': return { not: 'an array' };
    case 'object': return ['not', 'an', 'object'];
    default: return schema?.enum ? 'not-one-of-them' : [[{}]];
  }
}

function hostileRequests(method: string, route: string, doc: any): HostileRequest[] {
  const template = route.replace(PARAM, (_, name: string) => `{${name}}`);
  const operation = doc.paths?.[template]?.[method.toLowerCase()];
  const spec = ROUTE_SPECS.find((s) => s.method.toUpperCase() === method && s.path === route);
  // The dashboard's session, from this origin (its forms refuse another), besides the API key.
  const auth = ['authorization', `Bearer ${KEY}`, 'cookie', sessionCookie, 'origin', url];
  // A DELETE with a junk query may still delete: it is aimed at nothing, so the fixtures stay.
  const good = fill(route, (name) => (method === 'DELETE' ? 'missing' : goodParam(route, name)));
  const takesBody = !['GET', 'DELETE', 'HEAD'].includes(method);
  const readsJson = spec?.body !== undefined && !route.startsWith('/webhooks/');
  const out: HostileRequest[] = [];
  const add = (category: HostileRequest['category'], what: string, r: Partial<HostileRequest>) =>
    out.push({ category, what, method, path: good, headers: auth, mustRefuse: false, ...r });
  const body = takesBody ? { headers: [...auth, ...JSON_TYPE], body: '{}' } : {};

  for (const [what, headers] of BAD_AUTH) add('auth', what, { ...body, headers: [...headers, ...(takesBody ? JSON_TYPE : [])] });

  const params = [...route.matchAll(PARAM)].map((m) => m[1]!);
  for (const param of params) {
    for (const segment of BAD_SEGMENTS) add('path', `:${param} = ${segment.slice(0, 20)}`, { ...body, path: fill(route, (name) => (name === param ? segment : goodParam(route, name))) });
  }

  const queryNames: string[] = (operation?.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name);
  for (const name of queryNames.length > 0 ? queryNames : ['limit', 'cursor']) {
    const q = encodeURIComponent(name);
    for (const value of [...BAD_NUMBERS, ...BAD_TEXT]) add('query', `?${name}=${value.slice(0, 20)}`, { ...body, path: `${good}?${q}=${value}` });
    add('query', `?${name} twice`, { ...body, path: `${good}?${q}=1&${q}=2` });
    add('query', `?${name} empty and bare`, { ...body, path: `${good}?${q}&${q}=` });
  }
  add('query', 'unknown and malformed parameters', { ...body, path: `${good}?surprise=1&%zz=1&&=&a[b]=1` });
  // A typo of a parameter is refused, naming it, on every API route (test/api/unknown-query) but
  // those a browser or a provider calls with parameters of its own: they ignore what they do not read.
  const opensQuery = route.startsWith('/webhooks/') || route === '/oauth/callback' || route === '/connect' || route.startsWith('/connect/providers/');
  if (spec && !opensQuery) add('query', '?conection_id (a typo)', { ...body, path: `${good}?conection_id=real`, unknownParameter: 'conection_id' });

  if (takesBody) {
    const refuse = (what: string, text: string | Buffer, headers: string[] = JSON_TYPE) => add('body', what, { headers: [...auth, ...headers], body: text, mustRefuse: readsJson });
    refuse('truncated JSON', '{"connection_id":');
    refuse('not JSON', 'not json');
    refuse('JSON then garbage', '{} trailing');
    refuse('bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
    for (const type of NOT_JSON_TYPES) refuse(`content-type ${type}`, '{"connection_id":"real"}', ['content-type', type]);
    for (const shape of ['[]', '"string"', '123', 'null', 'true']) refuse(`a ${shape} body`, shape);
    refuse('nested 5,000 deep', DEEP(5_000));
    refuse('a NUL in a key and a value', '{"connection_id":"re\\u0000al","k\\u0000":1}');
    refuse('a lone surrogate', '{"connection_id":"\\ud800","provider":"\\udfff"}');
    const schema = operation?.requestBody?.content?.['application/json']?.schema;
    const properties: Record<string, any> = { ...schema?.properties, ...Object.assign({}, ...(schema?.oneOf ?? schema?.anyOf ?? []).map((b: any) => b.properties ?? {})) };
    const validates = schema !== undefined && schema.additionalProperties !== true && Object.keys(schema.additionalProperties ?? {}).length === 0;
    const wrong = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, wrongValue(value)]));
    add('body', 'every field of the wrong type', { headers: [...auth, ...JSON_TYPE], body: JSON.stringify(wrong), mustRefuse: readsJson && validates && Object.keys(wrong).length > 0 });
    const keys = Object.keys(properties).length > 0 ? Object.keys(properties) : ['x'];
    const withEach = (value: unknown) => JSON.stringify(Object.fromEntries(keys.map((k) => [k, value])));
    add('body', 'every field a 1 MB string', { headers: [...auth, ...JSON_TYPE], body: withEach('s'.repeat(1024 * 1024 / keys.length)) });
    add('body', 'every field a 400,000-item array', { headers: [...auth, ...JSON_TYPE], body: withEach(new Array(Math.ceil(400_000 / keys.length)).fill(0)) });
    add('body', 'every field a huge or odd number', { headers: [...auth, ...JSON_TYPE], body: `{${keys.map((k, i) => `${JSON.stringify(k)}:${['1e400', '-1e400', '-0', '123456789012345678901234567890', '0.0000001'][i % 5]}`).join(',')}}` });
    add('body', 'every field RTL, BOM and emoji text', { headers: [...auth, ...JSON_TYPE], body: withEach('\u202e\ufeff\ud83d\udca9\u0007') });
  }
  return out;
}

test('every route the host serves: hostile headers, paths, queries and bodies are 4xx JSON errors, never a 5xx, and the host stays up', async () => {
  const routes = servedRoutes();
  expect(routes.length).toBeGreaterThan(60);
  const { body: doc } = await api.get('/openapi.json');

  const byRoute = new Map(routes.map((r) => [`${r.method} ${r.path}`, hostileRequests(r.method, r.path, doc)]));
  // Every route gets every kind of hostile request that fits it: a new route cannot go without.
  const missing = routes.flatMap((r) => {
    const categories = new Set(byRoute.get(`${r.method} ${r.path}`)!.map((c) => c.category));
    const expected = ['auth', 'query', ...(r.path.includes('/:') ? ['path'] : []), ...(['GET', 'DELETE'].includes(r.method) ? [] : ['body'])];
    return expected.filter((c) => !categories.has(c as HostileRequest['category'])).map((c) => `${r.method} ${r.path}: no ${c} cases`);
  });
  expect(missing).toEqual([]);

  const requests = [...byRoute.values()].flat();
  expect(requests.length).toBeGreaterThan(3_000);
  const outcomes = await inBatches(requests.map((r) => () => send(r)));

  const describe = (o: Outcome) => `${o.status} ${o.request.method} ${o.request.path.slice(0, 100)} [${o.request.what}] → ${o.body.slice(0, 160)}`;
  expect(outcomes.filter((o) => o.status >= 500).map(describe)).toEqual([]);
  // Browser pages (the dashboard, connect, the OAuth callback) answer a person with HTML; the API answers JSON.
  const wrongShape = outcomes.filter((o) => o.status >= 400 && !o.contentType.startsWith('text/html')).filter((o) => {
    try {
      const parsed = JSON.parse(o.body) as { error?: { code?: unknown; message?: unknown } };
      return typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string' || parsed.error.message === '';
    } catch { return true; }
  }).map(describe);
  expect(wrongShape).toEqual([]);
  expect(outcomes.filter((o) => o.request.mustRefuse && (o.status < 400 || o.status >= 500)).map(describe)).toEqual([]);
  const typos = outcomes.filter((o) => o.request.unknownParameter !== undefined);
  expect(typos.length).toBeGreaterThan(50);
  const namesIt = (o: Outcome) => {
    try {
      return (JSON.parse(o.body) as { error: { message: string } }).error.message.includes(`"${o.request.unknownParameter}"`);
    } catch { return false; }
  };
  expect(typos.filter((o) => o.status !== 400 || !namesIt(o)).map(describe)).toEqual([]);

  // Each route was reached: some hostile request got past "no route" to the route itself.
  const noRoute = (o: Outcome) => o.status === 404 && o.body.includes('"no route ');
  const unreached = [...byRoute].filter(([, requests]) => {
    const ids = new Set(requests);
    return outcomes.every((o) => !ids.has(o.request) || noRoute(o));
  }).map(([route]) => route);
  expect(unreached).toEqual([]);

  expect(host.exitCode).toBeNull();
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect((await api.get('/connections/real')).body).toMatchObject({ connection_id: 'real', provider: 'plain' });
}, 600_000);
