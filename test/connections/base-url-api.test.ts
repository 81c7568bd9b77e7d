/**
 * Templated base URLs and declared origins over the API of a whole host: a catalog entry with a
 * template, connections whose connection_config fills it (a missing key is a 400 naming it), and
 * a baseUrlOverride off the declared origins answered 400 naming the field — never a 502.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestFerry, type TestFerry } from '../helpers/ferry.ts';

let ferry: TestFerry;
const servers: Array<{ port: number; server: Server; auth: Array<string | undefined> }> = [];

async function startServer() {
  const auth: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ port: (server.address() as AddressInfo).port, path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const entry = { port: (server.address() as AddressInfo).port, server, auth };
  servers.push(entry);
  return entry;
}

beforeAll(async () => {
  ferry = await startTestFerry();
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  for (const { server } of servers) {
    server.closeAllConnections();
    server.close();
  }
});

test('a templated provider serves two connections on two hosts; config and overrides are checked at the edge', async () => {
  const [a, b] = [await startServer(), await startServer()];
  const put = await ferry.api.put('/providers/selfhosted', { base_url: 'http://127.0.0.1:${connectionConfig.port}/api', auth: { type: 'bearer' } });
  expect(put.status).toBe(200);
  expect(put.body).toMatchObject({ base_url: 'http://127.0.0.1:${connectionConfig.port}/api', allowed_origins: [] });

  const bad = await ferry.api.put('/providers/broken', { base_url: 'https://${connectionConfig.sub.example.com', auth: { type: 'bearer' } });
  expect(bad.status).toBe(400);
  expect(bad.body.error.issues).toContainEqual(expect.objectContaining({ path: ['body', 'base_url'] }));

  const missing = await ferry.api.post('/connections', { connection_id: 'nope', provider: 'selfhosted', credentials: { type: 'bearer', token: 'token-nope' } });
  expect(missing.status).toBe(400);
  expect(missing.body.error).toMatchObject({ code: 'CONNECTION_CONFIG_MISSING', issues: [{ path: ['body', 'connection_config', 'port'] }] });
  expect(missing.body.error.message).toContain('connection_config.port');
  expect((await ferry.api.get('/connections/nope')).status).toBe(404);

  for (const [id, server] of [['c-a', a], ['c-b', b]] as const) {
    const created = await ferry.api.post('/connections', { connection_id: id, provider: 'selfhosted', credentials: { type: 'bearer', token: `token-${id}` }, connection_config: { port: server.port } });
    expect(created.status).toBe(201);
  }
  const answers = await Promise.all(['c-a', 'c-b'].map(async (id) => JSON.parse((await ferry.api.post(`/connections/${id}/proxy`, { method: 'GET', endpoint: '/me' })).body.body)));
  expect(answers).toEqual([{ port: a.port, path: '/api/me' }, { port: b.port, path: '/api/me' }]);
  expect(a.auth).toEqual(['Bearer token-c-a']);
  expect(b.auth).toEqual(['Bearer token-c-b']);

  // A patch that breaks the template is refused; the connection keeps working.
  const patched = await ferry.api.request('PATCH', '/connections/c-a', { connection_config: { port: 'not/a/port' } });
  expect(patched.status).toBe(400);
  expect(patched.body.error).toMatchObject({ code: 'CONNECTION_CONFIG_INVALID', issues: [{ path: ['body', 'connection_config', 'port'] }] });

  // c-a's token never goes to c-b's server, nor over another scheme: 400 naming the field.
  for (const baseUrlOverride of [`http://127.0.0.1:${b.port}/api`, `https://127.0.0.1:${a.port}/api`, 'nonsense']) {
    const refused = await ferry.api.post('/connections/c-a/proxy', { method: 'GET', endpoint: '/me', baseUrlOverride });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'INVALID_BASE_URL_OVERRIDE', issues: [{ path: ['body', 'baseUrlOverride'] }] });
  }
  const allowed = await ferry.api.post('/connections/c-a/proxy', { method: 'GET', endpoint: '/me', baseUrlOverride: `http://127.0.0.1:${a.port}/v2` });
  expect(JSON.parse(allowed.body.body)).toEqual({ port: a.port, path: '/v2/me' });
  expect(b.auth).toEqual(['Bearer token-c-b']);
}, 60_000);
