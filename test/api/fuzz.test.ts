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

interface Outcome { request: string; status: number; body: string; validates: boolean; contentType?: string }

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
      res.on('end', () => resolve({ request, validates, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
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
  // Browser pages (the OAuth callback) answer a person with an HTML page; the API answers JSON.
  const wrongShape = outcomes.filter((o) => o.status >= 400 && !o.contentType?.startsWith('text/html')).filter((o) => {
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

/** POSTs a form to the dashboard from its own origin, its body in 1 MiB chunks (chunked: no content-length). */
function postForm(path: string, bytes: number, chunked: boolean): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(ferry.url);
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded', origin: ferry.url };
    if (!chunked) headers['content-length'] = bytes;
    const req = httpRequest({ host: hostname, port, method: 'POST', path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ status: 599, body: `response failed: ${err.message}` }));
    });
    // The server answers before the upload ends and closes the socket under it: that is the point.
    req.on('error', (err) => resolve({ status: 599, body: `connection failed: ${err.message}` }));
    const chunk = Buffer.alloc(1024 * 1024, 'k');
    chunk.write('key=');
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

test('a dashboard form over 8 MiB (sign-in, before any session) is a 413 too, declared or chunked', async () => {
  for (const chunked of [false, true]) {
    const outcome = await postForm('/dashboard/sign-in', 12 * 1024 * 1024, chunked);
    expect(outcome.status).toBe(413);
    expect(JSON.parse(outcome.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  }
  expect((await ferry.api.get('/healthz')).status).toBe(200);
});

// ---- every field of every route in /openapi.json: deep nesting, NUL, lone surrogates, controls ----

const DEEP_MARK = '"__deep__"';
const DEEP_TEXT = `${'{"d":'.repeat(5000)}1${'}'.repeat(5000)}`;
/** Values the edge refuses wherever they are (a 400 naming the field), then controls that may be fine text. */
const REFUSED_VALUES: Array<[string, unknown]> = [['nested 5,000 deep', '__deep__'], ['a NUL', 'a\u0000b'], ['a lone surrogate', 'a\ud800b'], ['a lone low surrogate key', { 'k\udc00': 1 }]];
const CONTROL_VALUES: Array<[string, unknown]> = [['CR/LF and BEL', 'a\r\n\u0007b'], ['every C0 control', Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('').slice(1)]];
const PATH_VALUES: Record<string, string> = { id: 'real', name: 'plain', connection_id: 'real', version: '1', environment: 'dev', provider: 'plain' };

/** Field paths of a JSON body schema ('x' for a free-form map's key, '0' for an array's first item). */
function fieldPaths(schema: any, depth = 0): string[][] {
  if (!schema || typeof schema !== 'object' || depth > 3) return [];
  const paths: string[][] = [];
  for (const branch of [...(schema.oneOf ?? []), ...(schema.anyOf ?? []), ...(schema.allOf ?? [])]) paths.push(...fieldPaths(branch, depth));
  for (const [key, child] of Object.entries<any>(schema.properties ?? {})) {
    paths.push([key], ...fieldPaths(child, depth + 1).map((p) => [key, ...p]));
  }
  if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
    paths.push(['x'], ...fieldPaths(schema.additionalProperties, depth + 1).map((p) => ['x', ...p]));
  }
  if (schema.items) paths.push(...fieldPaths(schema.items, depth + 1).map((p) => ['0', ...p]));
  const unique = new Map(paths.map((p) => [p.join('\u0001'), p]));
  return [...unique.values()];
}

/** A body holding `value` at `path` and nothing else, as JSON text (the deep value spliced in as text). */
function bodyWith(path: string[], value: unknown): string {
  const root: any = path[0] === '0' ? [] : {};
  let node = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) node[key] = value;
    else node = node[key] = path[i + 1] === '0' ? [] : {};
  });
  return JSON.stringify(root).replace(DEEP_MARK, DEEP_TEXT);
}

test('deep nesting, NUL, lone surrogates and control characters in every field of every route of /openapi.json', async () => {
  const { body: doc } = await ferry.api.get('/openapi.json');
  interface Case { task: () => Promise<Outcome>; field: string[]; refused: boolean; route: string }
  const cases: Case[] = [];
  for (const [template, operations] of Object.entries<any>(doc.paths)) {
    // Ids that pass their params' schemas, so a request gets as far as its query and body.
    const path = template.replace(/\{([^}]+)\}/g, (_: string, name: string) => (name === 'id' && !template.startsWith('/connections') ? '1' : PATH_VALUES[name] ?? 'real'));
    for (const [method, operation] of Object.entries<any>(operations)) {
      const route = `${method.toUpperCase()} ${template}`;
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      for (const field of schema ? fieldPaths(schema) : []) {
        for (const [, value] of REFUSED_VALUES) cases.push({ route, field: ['body', ...field], refused: true, task: () => send(method.toUpperCase(), path, bodyWith(field, value)) });
        for (const [, value] of CONTROL_VALUES) cases.push({ route, field: ['body', ...field], refused: false, task: () => send(method.toUpperCase(), path, bodyWith(field, value)) });
      }
      for (const parameter of (operation.parameters ?? []).filter((p: any) => p.in === 'query')) {
        const query = (value: string) => `${path}?${encodeURIComponent(parameter.name)}=${value}`;
        cases.push({ route, field: ['query', parameter.name], refused: true, task: () => send(method.toUpperCase(), query('a%00b'), undefined) });
        for (const value of ['a%0D%0A%07b', '%ED%A0%80', '%E0%A4%A']) cases.push({ route, field: ['query', parameter.name], refused: false, task: () => send(method.toUpperCase(), query(value), undefined) });
      }
    }
  }
  expect(cases.length).toBeGreaterThan(500);
  const before = await rowCounts();
  const refused = cases.filter((c) => c.refused);
  const refusedOutcomes = await inBatches(refused.map((c) => c.task));
  expect(await rowCounts()).toEqual(before);
  const controlOutcomes = await inBatches(cases.filter((c) => !c.refused).map((c) => c.task));
  const outcomes = [...refusedOutcomes, ...controlOutcomes];

  expect(outcomes.filter((o) => o.status >= 500).map((o) => `${o.status} ${o.request} → ${o.body.slice(0, 200)}`)).toEqual([]);
  // Browser pages (the OAuth callback) answer a person with an HTML page; the API answers JSON.
  const isPage = (o: Outcome) => o.contentType?.startsWith('text/html') ?? false;
  expect(outcomes.filter((o) => o.status >= 400 && !isPage(o)).filter((o) => {
    try {
      const parsed = JSON.parse(o.body) as { error?: { code?: unknown; message?: unknown } };
      return typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string';
    } catch { return true; }
  }).map((o) => `${o.status} ${o.request}`)).toEqual([]);

  // Every refused value is a 400 naming its field, unless the route turned the request away
  // before reading its body: these need another key (admin) or a connect session. (Queries are
  // checked before any route runs.)
  const unnamed = refused.map((c, i) => ({ c, o: refusedOutcomes[i]! })).filter(({ c, o }) => {
    if (isPage(o)) return false;
    if (o.status !== 400) return true;
    const issues = (JSON.parse(o.body) as { error: { issues?: Array<{ path: string[] }> } }).error.issues ?? [];
    return !issues.some((issue) => issue.path.slice(0, c.field.length).join('.') === c.field.join('.') || c.field.join('.').startsWith(issue.path.join('.')));
  });
  const turnedAway = [...new Set(unnamed.map(({ c, o }) => `${c.route} ${o.status}`))].sort();
  expect(turnedAway).toEqual(['POST /connect/providers/{name} 401', 'POST /environments 403']);
}, 300_000);
