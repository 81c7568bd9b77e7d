/**
 * Connections, providers and metadata over the API and the CLI, against a whole host: credentials
 * go in and never come out (API, database, scripts); a script sees only id, provider, config and
 * metadata; a provider wait too long to sleep through ends the run as RETRY_AFTER with the wait.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectionsCommand } from '../../cli/commands/connections.ts';
import { deployScripts } from '../../cli/deploy.ts';
import { startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startTestProvider, type TestProvider } from '../proxy/provider-server.ts';

let ferry: TestFerry;
let provider: TestProvider;
const cliEnv = () => ({ FERRY_URL: ferry.url, FERRY_SECRET_KEY: TEST_SECRET_KEY });

beforeAll(async () => {
  provider = await startTestProvider();
  ferry = await startTestFerry();
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

describe('providers', () => {
  test('built-in entries are listed; an environment entry overrides one by name and can be removed', async () => {
    const list = await ferry.api.get('/providers');
    expect(list.body.providers).toContainEqual(expect.objectContaining({ name: 'github', source: 'builtin', pagination: expect.objectContaining({ type: 'link' }) }));
    expect((await ferry.api.put('/providers/github', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
    expect((await ferry.api.get('/providers/github')).body).toMatchObject({ base_url: provider.url, pagination: null });
    expect((await ferry.api.request('DELETE', '/providers/github')).status).toBe(204);
    expect((await ferry.api.get('/providers/github')).body.base_url).toBe('https://api.github.com');
    const bad = await ferry.api.put('/providers/x', { base_url: provider.url, auth: { type: 'oauth2' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toContainEqual(expect.objectContaining({ path: ['body', 'auth', 'token_url'] }));
  });
});

describe('connections', () => {
  test('CLI create/update/metadata/delete; credentials never come back nor sit in plaintext', async () => {
    await ferry.api.put('/providers/probe', { base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' } });
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
    await writeFile(join(dir, 'creds.json'), JSON.stringify({ type: 'api_key', apiKey: provider.apiKey }));
    const run = (...argv: string[]) => connectionsCommand.run([...argv, '--json'], cliEnv());
    expect(await run('create', 'acme', '--provider', 'probe', '--credentials', `@${join(dir, 'creds.json')}`, '--config', '{"region":"eu"}')).toBe(0);
    expect(await run('metadata', 'acme', '--set', '{"a":1}')).toBe(0);
    expect(await run('metadata', 'acme', '--merge', '{"b":2}')).toBe(0);
    expect(await run('update', 'acme', '--config', '{"region":"us"}')).toBe(0);
    expect(await run('get', 'missing')).toBe(1);

    const got = await ferry.api.get('/connections/acme');
    expect(got.body).toMatchObject({ connection_id: 'acme', provider: 'probe', connection_config: { region: 'us' }, metadata: { a: 1, b: 2 }, auth_status: 'ok' });
    expect(JSON.stringify(got.body)).not.toContain(provider.apiKey);
    expect(JSON.stringify((await ferry.api.get('/connections')).body)).not.toContain(provider.apiKey);
    const rows = await ferry.db.sql`select * from connections`;
    expect(JSON.stringify(rows)).not.toContain(provider.apiKey);

    // The proxy service uses them all the same.
    const proxied = await ferry.api.post('/connections/acme/proxy', { method: 'GET', endpoint: '/v1/me' });
    expect(proxied.body).toMatchObject({ status: 200, body: JSON.stringify({ who: 'api-key' }) });
    expect((await ferry.api.post('/connections/acme/proxy', { method: 'GET', endpoint: 'http://169.254.169.254/' })).body.error.code).toBe('INVALID_ENDPOINT');

    expect(await run('delete', 'acme')).toBe(0);
    expect((await ferry.api.get('/connections/acme')).status).toBe(404);
  });

  test('a script sees id, provider, config and metadata only; a long provider wait ends the run as RETRY_AFTER', async () => {
    await deployScripts({ dir: fileURLToPath(new URL('./fixtures', import.meta.url)), url: ferry.url, key: TEST_SECRET_KEY });
    await ferry.api.put('/providers/probe', { base_url: provider.url, auth: { type: 'bearer' } });
    expect((await ferry.api.post('/connections', { connection_id: 'p1', provider: 'probe', credentials: { type: 'bearer', token: provider.bearer }, connection_config: { tenant: 't1' }, metadata: { m: 1 } })).status).toBe(201);

    expect((await ferry.api.post('/syncs/probe/trigger', { connection_id: 'p1' })).status).toBe(202);
    const ok = await waitForRun(ferry.api, 'p1', 'probe');
    expect(ok.status).toBe('succeeded');
    const metadata = (await ferry.api.get('/connections/p1/metadata')).body;
    expect(metadata.seen).toEqual({ connection_id: 'p1', provider: 'probe', provider_config_key: 'probe', connection_config: { tenant: 't1' }, metadata: { m: 1 } });
    expect(metadata.before).toEqual({ m: 1 });
    expect(JSON.stringify(metadata)).not.toContain(provider.bearer);

    provider.failNext(1, 429, '3600');
    expect((await ferry.api.post('/syncs/probe/trigger', { connection_id: 'p1' })).status).toBe(202);
    const waited = await waitForRun(ferry.api, 'p1', 'probe', ok.id);
    expect(waited.status).toBe('failed');
    expect(waited.error).toMatchObject({ code: 'RETRY_AFTER', retryAfterMs: 3_600_000 });
    const calls = (await ferry.api.get(`/runs/${waited.id}/calls`)).body.calls;
    expect(calls).toEqual([expect.objectContaining({ path: '/v1/me', status: null, error: expect.stringContaining('wait') })]);
  }, 60_000);
});
