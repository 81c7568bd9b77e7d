/**
 * Every route the app registers gets malformed input: bad JSON, wrong types, huge values,
 * unknown fields, bad ids and query strings. None may answer 5xx or anything but the API's error
 * shape, and nothing may be written.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApi, ROUTE_SPECS, type ApiDeps } from '../../host/api/app.ts';
import { registeredRoutes } from '../../host/api/openapi/index.ts';
import { createLogger } from '../../host/logger.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  // Something for routes to find, so requests get past "not found" into validation.
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'real', provider: 'plain' })).status).toBe(201);
});
afterAll(async () => { await ferry?.close(); });

function appRoutes() {
  const inert = new Proxy({ logger: createLogger({ level: 'silent' }) } as Record<string | symbol, unknown>, {
    get: (target, key) => (key in target ? target[key] : () => { throw new Error(`dependency ${String(key)} used while building the app`); }),
  });
  return registeredRoutes(createApi(inert as unknown as ApiDeps));
}

const HUGE = 'x'.repeat(300_000);
const BAD_PATH_VALUES = ['real', 'nope', 'x'.repeat(3000), '%00', '%E0%A4%A', '..%2F..%2Fetc', '99999999999999999999', '-1', '%20', 'a%2Cb'];
const BAD_BODIES: string[] = [
  '{"connection_id":',
  'not json',
  '[]',
  '"string"',
  '123',
  'null',
  '{"surprise":1}',
  '{"connection_id":123,"provider":[],"input":"x","full":"yes","name":{}}',
  JSON.stringify({ connection_id: HUGE, provider: HUGE, input: { blob: HUGE }, name: HUGE }),
  '{"connection_id":"real","full":1e400,"limit":-1e308,"input":{"__proto__":{"polluted":true}}}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  '{"connection_id":"real\\u0000","model":"\\ud800","provider":"plain","surprise":true}',
];
const BAD_QUERIES = [
  '',
  '?surprise=1',
  '?connection_id=real&model=Contact&limit=1e400',
  '?connection_id=real&model=Contact&limit=abc&cursor=-1',
  '?connection_id=real&model=Contact&cursor=99999999999999999999',
  `?connection_id=${'x'.repeat(5000)}&model=${'y'.repeat(5000)}`,
  '?connection_id=%00&model=%00&ids=%00',
  '?connection_id=real&connection_id=other&model=Contact',
  '?%zz=1&connection_id=%E0%A4%A',
  '?connection_id=real&model=Contact&modified_after=yesterday&filter=created&after=NaN&before=x',
];

async function rowCounts(): Promise<Record<string, number>> {
  const tables = await ferry.db.sql<{ schema: string; name: string }[]>`
    select table_schema as schema, table_name as name from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema in ('public', 'pgboss')`;
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const [row] = await ferry.db.sql.unsafe<{ n: number }[]>(`select count(*)::int as n from "${t.schema}"."${t.name}"`);
    counts[`${t.schema}.${t.name}`] = row!.n;
  }
  return counts;
}

interface Outcome { request: string; status: number; body: string; validates: boolean }

/** node:http on a fresh connection per request: one request's fate cannot leak into another's socket. */
function send(method: string, path: string, body: string | undefined, validates = true): Promise<Outcome> {
  const request = `${method} ${path.slice(0, 120)} ${body?.slice(0, 60) ?? ''}`;
  const { hostname, port } = new URL(ferry.url);
  return new Promise((resolve) => {
    const req = httpRequest({
      host: hostname, port, method, path, agent: false,
      headers: { authorization: `Bearer ${TEST_SECRET_KEY}`, 'content-type': 'application/json', ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ request, validates, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ request, validates, status: 599, body: `response failed: ${err.message}` }));
    });
    req.on('error', (err) => resolve({ request, validates, status: 599, body: `connection failed: ${err.message}` }));
    req.end(body);
  });
}

/** Runs `tasks` a few at a time: the host shares two cores with other test files. */
async function inBatches<T>(tasks: Array<() => Promise<T>>, width = 4): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += width) results.push(...(await Promise.all(tasks.slice(i, i + width).map((t) => t()))));
  return results;
}

function expandPath(path: string): string[] {
  if (!path.includes(':')) return [path];
  return BAD_PATH_VALUES.map((v) => path.replace(/:[A-Za-z0-9_]+/g, v));
}

test('malformed input to every route: never a 5xx, always the error shape, nothing written', async () => {
  const routes = appRoutes();
  expect(routes.length).toBeGreaterThan(20);
  const before = await rowCounts();

  const tasks: Array<() => Promise<Outcome>> = [];
  for (const route of routes) {
    const spec = ROUTE_SPECS.find((s) => s.method.toUpperCase() === route.method && s.path === route.path);
    const takesBody = !['GET', 'DELETE', 'HEAD'].includes(route.method);
    // A route that declares no body (or query) may ignore one, and a free-form one (metadata) may
    // accept any object; the others must refuse every malformed input.
    const schema = takesBody ? spec?.body : spec?.query;
    const validates = schema !== undefined && !schema.safeParse({ surprise: 1 }).success;
    expandPath(route.path).forEach((path, i) => {
      if (route.method === 'DELETE' && path.includes('/real')) return; // a valid delete, not malformed input
      tasks.push(() => send(route.method, path, takesBody ? '{"surprise":1}' : undefined, validates));
      if (i > 1) return; // every malformed query and body with a real and a missing id
      if (takesBody) for (const body of BAD_BODIES) tasks.push(() => send(route.method, path, body, validates));
      else for (const query of BAD_QUERIES) tasks.push(() => send(route.method, path + query, undefined, validates));
    });
  }
  const outcomes = await inBatches(tasks);

  const serverErrors = outcomes.filter((o) => o.status >= 500).map((o) => `${o.status} ${o.request} → ${o.body.slice(0, 200)}`);
  expect(serverErrors).toEqual([]);
  const wrongShape = outcomes.filter((o) => o.status >= 400).filter((o) => {
    try {
      const parsed = JSON.parse(o.body) as { error?: { code?: unknown; message?: unknown } };
      return typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string';
    } catch { return true; }
  }).map((o) => `${o.status} ${o.request} → ${o.body.slice(0, 200)}`);
  expect(wrongShape).toEqual([]);
  const accepted = outcomes.filter((o) => o.validates && o.status < 300 && !o.request.startsWith('GET ')).map((o) => `${o.status} ${o.request}`);
  expect(accepted).toEqual([]);
  expect(await rowCounts()).toEqual(before);
  expect(outcomes.length).toBeGreaterThan(300);
}, 180_000);

test('a body over 8 MiB is refused with 413 before it is parsed', async () => {
  const outcome = await send('POST', '/connections', JSON.stringify({ connection_id: 'big', provider: 'x'.repeat(9 * 1024 * 1024) }));
  expect(outcome.status).toBe(413);
  expect(JSON.parse(outcome.body).error.code).toBe('PAYLOAD_TOO_LARGE');
});
