/**
 * Every HTTP request gets one pino line with its method, the route pattern that answered, the
 * status and the duration, and nothing secret: no keys, no headers, no query strings, no ids.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { TEST_SECRET_KEY } from '../helpers/ferry.ts';

const lines: string[] = [];
let db: TestDatabase;
let host: FerryHost;

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_RUNTIME_WORKERS: '1' });
  host = await startFerry(config, createLogger({ level: 'info', destination: { write: (line: string) => { lines.push(line); } } }));
}, 60_000);
afterAll(async () => {
  await host?.close();
  await db?.drop();
});

const accessLines = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.module === 'http');

test('one line per request: method, route pattern, status, duration; no secrets', async () => {
  const auth = { authorization: `Bearer ${TEST_SECRET_KEY}` };
  await fetch(`${host.url}/healthz`);
  await fetch(`${host.url}/connections/cust-secret-id?token=hunter2`, { headers: auth });
  await fetch(`${host.url}/runs/42`, { headers: { authorization: 'Bearer fsk_wrong_but_secret' } });
  await fetch(`${host.url}/no/such/route`);
  await fetch(`${host.url}/dashboard/sign-in`, { method: 'POST', body: new URLSearchParams({ key: 'fsk_typed_into_the_form' }), headers: { origin: host.url! } });

  await expect.poll(() => accessLines().length).toBeGreaterThanOrEqual(5);
  const byRoute = new Map(accessLines().map((l) => [`${l.method} ${l.route}`, l]));
  expect(byRoute.get('GET /healthz')).toMatchObject({ status: 200, durationMs: expect.any(Number) });
  // The route takes no query: refused, naming the parameter, never its value.
  expect(byRoute.get('GET /connections/:id')).toMatchObject({ status: 400 });
  expect(byRoute.get('GET /runs/:id')).toMatchObject({ status: 401 });
  // An unknown path is refused by authentication before routing finds nothing.
  expect(byRoute.get('GET unmatched')).toMatchObject({ status: 401 });
  expect(byRoute.get('POST /dashboard/sign-in')).toMatchObject({ status: 401 });
  for (const line of accessLines()) expect(Object.keys(line).sort()).toEqual(['durationMs', 'hostname', 'level', 'method', 'module', 'msg', 'name', 'pid', 'route', 'status', 'time']);

  const everything = lines.join('\n');
  for (const secret of [TEST_SECRET_KEY, 'fsk_wrong_but_secret', 'fsk_typed_into_the_form', 'hunter2', 'cust-secret-id']) expect(everything).not.toContain(secret);
});
