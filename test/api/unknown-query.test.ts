/**
 * A query parameter a route does not take is a 400 naming it, on every route — a DELETE or a POST
 * that reads no query included — before the route acts: `DELETE /connections/c1?conection_id=…`
 * used to delete the connection, the typo ignored. Routes a provider or a browser calls with
 * parameters of their own (the webhook receiver) still ignore them. Over real HTTP against a whole
 * host; test/api/hostile-routes sends such a typo to every route.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { idForThisAttempt, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const SECRET = 'a-webhook-secret';
let ferry: TestFerry;

beforeAll(async () => {
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.put('/providers/plain/webhook', { signature_header: 'x-signature', secret: SECRET, connection_id_path: 'connection' })).status).toBe(200);
}, 60_000);
afterAll(async () => { await ferry?.close(); });

function expectUnknownRefused(response: { status: number; body: any }, name: string, takes: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.body.error).toMatchObject({ code: 'INVALID_REQUEST', issues: [{ path: ['query', name], message: 'unknown parameter' }] });
  expect(response.body.error.message).toContain(`"${name}"`);
  expect(response.body.error.message).toContain(takes);
}

test('a DELETE with a mistyped query parameter is refused, naming it, and deletes nothing', async () => {
  const connection = idForThisAttempt('typo-c');
  expect((await ferry.api.post('/connections', { connection_id: connection, provider: 'plain' })).status).toBe(201);

  expectUnknownRefused(await ferry.api.request('DELETE', `/connections/${connection}?conection_id=${connection}`), 'conection_id', 'takes none');
  expect((await ferry.api.get(`/connections/${connection}`)).status).toBe(200);
  expectUnknownRefused(await ferry.api.request('DELETE', `/syncs/items/variants/v1?conection_id=${connection}`), 'conection_id', 'takes connection_id');
  expectUnknownRefused(await ferry.api.request('DELETE', `/providers/plain/webhook?force=1`), 'force', 'takes none');
  expect((await ferry.api.get('/providers/plain/webhook')).status).toBe(200);

  expect((await ferry.api.request('DELETE', `/connections/${connection}`)).status).toBe(204);
});

test('every other kind of route refuses an unknown parameter too, and names each one', async () => {
  expectUnknownRefused(await ferry.api.post('/connections?dry_run=1', { connection_id: idForThisAttempt('typo-post'), provider: 'plain' }), 'dry_run', 'takes none');
  const twice = await ferry.api.get('/runs?connection_id=x&synk=a&limt=5');
  expect(twice.status).toBe(400);
  expect(twice.body.error.issues).toEqual([{ path: ['query', 'synk'], message: 'unknown parameter' }, { path: ['query', 'limt'], message: 'unknown parameter' }]);
  expect(twice.body.error.message).toContain('connection_id, sync, variant, limit, before');
  expect((await ferry.api.get('/runs?connection_id=x&limit=5')).status).not.toBe(400);
});

test('the webhook receiver ignores parameters a provider adds to its URL', async () => {
  const body = JSON.stringify({ connection: 'nobody', type: 'x' });
  const response = await fetch(`${ferry.url}/webhooks/dev/plain?source=provider&attempt=2`, {
    method: 'POST', body, headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') },
  });
  expect(response.status).toBe(202);
});
