/**
 * A Nango script that reads `(await nango.getConnection()).credentials` fails at that line with
 * why (a Ferry script never sees credentials) and what to do instead, on the host and in
 * ferry/testing alike; spreading or serialising the connection still works and shows none.
 * A whole host on real Postgres and a real provider server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { deploySources, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const ACTION = `import { createAction } from 'nango';
import { z } from 'zod';
export default createAction({
  description: 'reads the API key from the connection, as some Nango scripts do',
  input: z.object({ mode: z.enum(['credentials', 'spread']) }),
  output: z.object({ keys: z.array(z.string()), json: z.string(), status: z.number() }),
  exec: async (nango, input) => {
    const connection = await nango.getConnection();
    const { data } = await nango.get({ endpoint: '/status' });
    if (input.mode === 'credentials') {
      const apiKey = connection.credentials.apiKey;
      return { keys: [apiKey], json: '', status: data.status };
    }
    return { keys: Object.keys({ ...connection }).sort(), json: JSON.stringify(connection), status: data.status };
  },
});
`;

const MESSAGE = /getConnection\(\)\.credentials: a Ferry script never sees the connection's credentials\. The host's proxy adds them to each request: call the provider with nango\.get/;
let provider: Server;
let baseUrl: string;
let ferry: TestFerry;
let dir: string;
const tester = createScriptTester();

beforeAll(async () => {
  provider = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 7 }));
  });
  await new Promise<void>((ok) => provider.listen(0, '127.0.0.1', ok));
  baseUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'ferry-credentials-'));
  await mkdir(join(dir, 'vault/actions'), { recursive: true });
  await writeFile(join(dir, 'vault/actions/read-key.ts'), ACTION);
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/vault', { base_url: baseUrl, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'vault-1', provider: 'vault' })).status).toBe(201);
  await deploySources(ferry, { 'vault/actions/read-key.ts': ACTION });
}, 120_000);

afterAll(async () => {
  await tester.close();
  await ferry?.close();
  await new Promise((done) => provider?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('reading credentials fails at its line, saying why and what to do, in ferry/testing and on the host', async () => {
  const run = await tester.run({ script: join(dir, 'vault/actions/read-key.ts'), input: { mode: 'credentials' }, proxy: liveProxy({ baseUrl }) });
  expect(run.error?.message).toMatch(MESSAGE);
  expect(run.error?.location).toMatchObject({ line: 11 });

  const hosted = await ferry.api.post('/actions/read-key', { connection_id: 'vault-1', input: { mode: 'credentials' } });
  expect(hosted.status).toBeGreaterThanOrEqual(400);
  expect(JSON.stringify(hosted.body)).toMatch(MESSAGE);
}, 60_000);

test('the connection spreads and serialises without credentials', async () => {
  const run = await tester.run({ script: join(dir, 'vault/actions/read-key.ts'), input: { mode: 'spread' }, proxy: liveProxy({ baseUrl }), connection: { connection_id: 'c-1', provider: 'vault' } });
  expect(run.error).toBeUndefined();
  const output = run.output as { keys: string[]; json: string; status: number };
  expect(output.keys).toEqual(['connection_config', 'connection_id', 'metadata', 'provider', 'provider_config_key']);
  expect(JSON.parse(output.json)).toEqual({ connection_id: 'c-1', provider: 'vault', connection_config: {}, metadata: null, provider_config_key: 'vault' });
  expect(output.status).toBe(7);

  const hosted = await ferry.api.post('/actions/read-key', { connection_id: 'vault-1', input: { mode: 'spread' } });
  expect(hosted.status).toBe(200);
  expect(JSON.stringify(hosted.body)).not.toMatch(/credentials/);
}, 60_000);
