/**
 * `ferry providers set|show|delete` as a user runs them: the real CLI against a whole host on
 * Postgres, with a real provider server the configured base URL and auth must reach.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { idForThisAttempt, startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let ferry: TestFerry;
let server: Server;
let providerUrl: string;
let dir: string;
/** What the provider server saw of each request: its path and the headers auth and defaults set. */
const seen: Array<{ url: string; authorization: string | undefined; apiKey: string | undefined; version: string | undefined }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization, apiKey: req.headers['x-api-key'] as string | undefined, version: req.headers['acme-version'] as string | undefined });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  providerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ferry = await startTestFerry();
  dir = await mkdtemp(join(tmpdir(), 'ferry-cli-providers-'));
});
afterAll(async () => {
  await ferry?.close();
  await new Promise((done) => server?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  const run = promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO, env: { ...process.env, ...options.env } });
  if (options.stdin !== undefined) run.child.stdin!.end(options.stdin);
  else run.child.stdin!.end();
  return run.then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

it('set creates a provider from flags that a connection then reaches through the proxy; a later set changes only what it names', async () => {
  // Connections of its own on each attempt (a retry's POST of an existing id answers 200, not 201).
  const keyConnection = idForThisAttempt('acme-key');
  const bearerConnection = idForThisAttempt('acme-1');
  const created = await cli(['providers', 'set', 'acme', '--base-url', providerUrl, '--auth', 'api_key', '--api-key-in', 'header', '--api-key-name', 'X-Api-Key', '--api-key-prefix', 'Token ', '--json']);
  expect(created.code).toBe(0);
  expect(JSON.parse(created.stdout).provider).toMatchObject({ base_url: providerUrl, auth: { type: 'api_key', in: 'header', name: 'X-Api-Key', prefix: 'Token ' } });
  expect((await ferry.api.post('/connections', { connection_id: keyConnection, provider: 'acme', credentials: { type: 'api_key', apiKey: 'k-1' } })).status).toBe(201);
  expect((await ferry.api.post(`/connections/${keyConnection}/proxy`, { method: 'GET', endpoint: '/v1/key' })).status).toBe(200);
  expect(seen.at(-1)).toMatchObject({ url: '/v1/key', apiKey: 'Token k-1' });

  // Another auth type starts a fresh auth: the api_key fields do not linger.
  const bearer = await cli(['providers', 'set', 'acme', '--auth', 'bearer', '--display-name', 'Acme', '--json']);
  expect(bearer.code).toBe(0);
  expect(JSON.parse(bearer.stdout).provider).toMatchObject({ base_url: providerUrl, auth: { type: 'bearer' }, display_name: 'Acme' });
  expect(JSON.parse(bearer.stdout).provider.auth).toEqual({ type: 'bearer' });

  const changed = await cli(['providers', 'set', 'acme', '--header', 'Acme-Version: 2024-01-01']);
  expect(changed.code).toBe(0);
  expect(changed.stdout).toContain(`Provider acme saved: ${providerUrl}, auth bearer.`);
  const shown = JSON.parse((await cli(['providers', 'show', 'acme', '--json'])).stdout);
  expect(shown).toMatchObject({ name: 'acme', base_url: providerUrl, display_name: 'Acme', auth: { type: 'bearer' }, headers: { 'Acme-Version': '2024-01-01' } });

  expect((await ferry.api.post('/connections', { connection_id: bearerConnection, provider: 'acme', credentials: { type: 'bearer', token: 'tk-1' } })).status).toBe(201);
  const proxied = await ferry.api.post(`/connections/${bearerConnection}/proxy`, { method: 'GET', endpoint: '/v1/things' });
  expect(proxied.status).toBe(200);
  expect(seen.at(-1)).toMatchObject({ url: '/v1/things', authorization: 'Bearer tk-1', version: '2024-01-01' });
});

it('bad flags are refused before anything is sent, naming the flag; a new provider needs --base-url and --auth', async () => {
  const before = (await ferry.api.get('/providers/acme')).body;
  const badAuth = await cli(['providers', 'set', 'acme', '--auth', 'oauth3']);
  expect(badAuth.code).toBe(2);
  expect(badAuth.stderr).toMatch(/--auth must be one of none, bearer, basic, api_key, oauth2/);
  const badUrl = await cli(['providers', 'set', 'acme', '--base-url', 'not a url']);
  expect(badUrl.code).toBe(2);
  expect(badUrl.stderr).toMatch(/--base-url: /);
  const badToken = await cli(['providers', 'set', 'acme', '--auth', 'oauth2', '--token-url', 'nope']);
  expect(badToken.code).toBe(2);
  expect(badToken.stderr).toMatch(/--token-url must be an absolute URL/);
  const missingToken = await cli(['providers', 'set', 'acme', '--auth', 'oauth2']);
  expect(missingToken.code).toBe(2);
  expect(missingToken.stderr).toMatch(/--token-url: /);
  const badHeader = await cli(['providers', 'set', 'acme', '--header', 'Authorization: x']);
  expect(badHeader.code).toBe(2);
  expect(badHeader.stderr).toMatch(/--header: .*set by the host/);
  const fresh = await cli(['providers', 'set', 'newco', '--auth', 'bearer']);
  expect(fresh.code).toBe(2);
  expect(fresh.stderr).toMatch(/provider "newco" does not exist yet: give --base-url/);
  const nothing = await cli(['providers', 'set', 'acme']);
  expect(nothing.code).toBe(2);
  expect(nothing.stderr).toMatch(/changes nothing/);
  expect((await cli(['providers', 'show', 'acme', '--base-url', providerUrl])).code).toBe(2);
  // None of these changed the stored entry, and newco was never created.
  expect((await ferry.api.get('/providers/acme')).body).toEqual(before);
  expect((await ferry.api.get('/providers/newco')).status).toBe(404);
});

it('an OAuth client secret comes from stdin or the environment, never argv, and is stored encrypted', async () => {
  const argv = await cli(['providers', 'set', 'oauthco', '--base-url', providerUrl, '--auth', 'oauth2', '--token-url', `${providerUrl}/token`, '--client-id', 'cid', '--client-secret', 's3cret']);
  expect(argv.code).toBe(2);
  expect(argv.stderr).toMatch(/--client-secret is not taken on the command line.*--client-secret-stdin/);
  expect((await ferry.api.get('/providers/oauthco')).status).toBe(404);

  const emptyStdin = await cli(['providers', 'set', 'oauthco', '--base-url', providerUrl, '--auth', 'oauth2', '--token-url', `${providerUrl}/token`, '--client-id', 'cid', '--client-secret-stdin'], { stdin: '' });
  expect(emptyStdin.code).toBe(2);
  expect(emptyStdin.stderr).toMatch(/stdin was empty/);
  expect((await ferry.api.get('/providers/oauthco')).status).toBe(404);

  const saved = await cli([
    'providers', 'set', 'oauthco', '--base-url', providerUrl, '--auth', 'oauth2', '--token-url', `${providerUrl}/token`,
    '--authorization-url', `${providerUrl}/authorize`, '--scopes', 'read, write', '--client-id', 'cid-1', '--client-secret-stdin', '--json',
  ], { stdin: 'stdin-secret-value\n' });
  expect(saved.code).toBe(0);
  const answer = JSON.parse(saved.stdout);
  expect(answer.provider.auth).toMatchObject({ type: 'oauth2', token_url: `${providerUrl}/token`, scopes: ['read', 'write'] });
  expect(answer.oauth_client).toMatchObject({ provider: 'oauthco', client_id: 'cid-1', has_secret: true, redirect_uri: expect.stringMatching(/\/oauth\/callback$/) });
  expect(saved.stdout + saved.stderr).not.toContain('stdin-secret-value');
  const [row] = await ferry.db.sql`select client_id, client_secret_enc from provider_oauth_clients where provider = 'oauthco'`;
  expect(row!.client_id).toBe('cid-1');
  expect(row!.client_secret_enc).toEqual(expect.any(String));
  expect(row!.client_secret_enc).not.toContain('stdin-secret-value');

  // Only the client changes (no entry flags): the provider entry is not rewritten; the secret comes from the environment.
  const fromEnv = await cli(['providers', 'set', 'oauthco', '--client-id', 'cid-2', '--json'], { env: { FERRY_OAUTH_CLIENT_SECRET: 'env-secret' } });
  expect(fromEnv.code).toBe(0);
  expect(JSON.parse(fromEnv.stdout)).toMatchObject({ provider: null, oauth_client: { client_id: 'cid-2', has_secret: true } });

  // A client for a provider that is not OAuth2 is the host's refusal (exit 1), said as such.
  const notOauth = await cli(['providers', 'set', 'acme', '--client-id', 'x'], { env: { FERRY_OAUTH_CLIENT_SECRET: '' } });
  expect(notOauth.code).toBe(1);
  expect(notOauth.stderr).toMatch(/does not use OAuth2/);
});

it('--from starts from a JSON entry; delete removes the environment entry; list shows what is configured', async () => {
  const file = join(dir, 'entry.json');
  await writeFile(file, JSON.stringify({ base_url: 'https://example.invalid', auth: { type: 'basic' }, pagination: { type: 'cursor', cursor_path_in_response: 'next' } }));
  const fromFile = await cli(['providers', 'set', 'filed', '--from', file, '--base-url', providerUrl, '--json']);
  expect(fromFile.code).toBe(0);
  expect(JSON.parse(fromFile.stdout).provider).toMatchObject({ base_url: providerUrl, auth: { type: 'basic' }, pagination: { type: 'cursor' } });
  await writeFile(file, '[1,2]');
  const badFile = await cli(['providers', 'set', 'filed', '--from', file]);
  expect(badFile.code).toBe(2);
  expect(badFile.stderr).toMatch(/--from: .* must hold a JSON object/);

  const listed = JSON.parse((await cli(['providers', '--json'])).stdout).providers.map((p: { name: string }) => p.name);
  expect(listed).toEqual(expect.arrayContaining(['acme', 'filed', 'oauthco']));
  expect((await cli(['providers', 'filed', '--json'])).code).toBe(0);
  expect((await cli(['providers', 'delete', 'filed'])).code).toBe(0);
  expect((await ferry.api.get('/providers/filed')).status).toBe(404);
  expect((await cli(['providers', 'delete', 'filed'])).code).toBe(1);
});
