/**
 * A signed webhook whose payload names a connection id of a megabyte: it is not looked up (no
 * connection id is over 255 characters) and the host's log line names it cut short, so a payload
 * cannot make the host write megabytes per delivery into its logs.
 */
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createApiClient, TEST_SECRET_KEY, waitFor } from '../helpers/ferry.ts';

const SECRET = 'a-webhook-secret';
const lines: string[] = [];
let db: TestDatabase;
let host: FerryHost;

beforeAll(async () => {
  db = await createTestDatabase();
  const destination = new Writable({ write(chunk, _encoding, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  const config = loadConfig({ DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_RUNTIME_WORKERS: '1' });
  host = await startFerry(config, createLogger({ level: 'warn', destination }));
  const api = createApiClient(host.url!, TEST_SECRET_KEY);
  expect((await api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await api.put('/providers/plain/webhook', { signature_header: 'x-signature', secret: SECRET, connection_id_path: 'connection' })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await host?.close();
  await db?.drop();
});

test('a connection id of a megabyte is logged cut short, with its length', async () => {
  const body = JSON.stringify({ connection: 'g'.repeat(1_000_000), event: 'x' });
  const response = await fetch(`${host.url}/webhooks/dev/plain`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') }, body,
  });
  expect(response.status).toBe(202);
  const line = await waitFor('the ignored delivery logged', async () => lines.find((l) => l.includes('names no known connection')));
  expect(JSON.parse(line).connectionId).toBe(`${'g'.repeat(200)}… (999800 more characters)`);
  expect(line.length).toBeLessThan(1_000);
  expect(lines.every((l) => l.length < 10_000)).toBe(true);
});
