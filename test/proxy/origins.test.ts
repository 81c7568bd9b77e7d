/**
 * Where credentials may go: base URLs templated per connection (two connections of one provider
 * reach two different hosts), baseUrlOverride and redirects only within the provider's declared
 * origins (same scheme, host and port), and the address guard still applied after templating.
 * Real servers on 127.0.0.1 and 127.0.0.2; a resolver maps the test's host names onto them.
 */
import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connect, get, proxyParts } from './harness.ts';

interface Seen { host: string | undefined; path: string; authorization: string | undefined }

interface HostServer { address: string; port: number; seen: Seen[]; close(): Promise<void> }

/** Answers /me with who it is; /redirect?to=URL redirects there. Records every request. */
async function startHostServer(address: string, port = 0): Promise<HostServer> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ host: req.headers.host, path: url.pathname, authorization: req.headers.authorization });
    if (url.pathname.endsWith('/redirect')) {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ server: address, host: req.headers.host, path: url.pathname }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  return {
    address, port: (server.address() as AddressInfo).port, seen,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** A resolver for the test's names: *.two.localhost → 127.0.0.2, other *.localhost and *.example → 127.0.0.1. */
const lookups: string[] = [];
const lookup = ((host: string, options: unknown, cb: (e: null, a: string | LookupAddress[], f?: number) => void) => {
  lookups.push(host);
  const address = host.endsWith('.two.localhost') ? '127.0.0.2' : '127.0.0.1';
  if ((options as { all?: boolean }).all) cb(null, [{ address, family: 4 }]);
  else cb(null, address, 4);
}) as never;

let db: TestDatabase;
let one: HostServer;
let two: HostServer;
let other: HostServer;

beforeAll(async () => {
  db = await createTestDatabase();
  one = await startHostServer('127.0.0.1');
  two = await startHostServer('127.0.0.2', one.port);
  other = await startHostServer('127.0.0.1');
});
afterAll(async () => {
  await Promise.all([one, two, other].map((s) => s?.close()));
  await db?.drop();
});
beforeEach(async () => {
  for (const s of [one, two, other]) s.seen.length = 0;
  lookups.length = 0;
  await db.sql`delete from connections`;
  await db.sql`delete from providers`;
});

const bearer = (token: string) => ({ type: 'bearer' as const, token });

describe('base URLs templated per connection', () => {
  test('two connections of one provider reach two different hosts, each with its own credentials', async () => {
    const parts = proxyParts(db.sql, { lookup });
    const provider = { name: 'desk', base_url: `http://\${connectionConfig.subdomain}.localhost:${one.port}/api/v2`, auth: { type: 'bearer' as const } };
    const acme = await connect(db.sql, parts, provider, bearer('acme-token-1'), 'acme', { subdomain: 'acme' });
    const globex = await connect(db.sql, parts, provider, bearer('globex-token-2'), 'globex', { subdomain: 'globex.two' });

    const a = JSON.parse((await parts.proxy.request(acme.target, get('/me'))).body);
    const g = JSON.parse((await parts.proxy.request(globex.target, get('/me'))).body);
    expect(a).toEqual({ server: '127.0.0.1', host: `acme.localhost:${one.port}`, path: '/api/v2/me' });
    expect(g).toEqual({ server: '127.0.0.2', host: `globex.two.localhost:${one.port}`, path: '/api/v2/me' });
    expect(one.seen.map((s) => s.authorization)).toEqual(['Bearer acme-token-1']);
    expect(two.seen.map((s) => s.authorization)).toEqual(['Bearer globex-token-2']);
  });

  test('a missing or unusable connection_config value is a clear error and nothing is sent', async () => {
    const parts = proxyParts(db.sql, { lookup });
    const provider = { name: 'desk', base_url: `http://\${connectionConfig.subdomain}.localhost:${one.port}`, auth: { type: 'bearer' as const } };
    const missing = await connect(db.sql, parts, provider, bearer('t-123456'), 'missing', {});
    await expect(parts.proxy.request(missing.target, get('/me'))).rejects.toMatchObject({
      code: 'CONNECTION_CONFIG_MISSING', message: expect.stringContaining('connection_config.subdomain'),
    });
    // A value that would change the host's shape (another host, userinfo, a path) is refused.
    for (const [i, subdomain] of ['evil.example/#', 'x@evil.example', 'a:1', ''].entries()) {
      const bad = await connect(db.sql, parts, provider, bearer('t-123456'), `bad-${i}`, { subdomain });
      await expect(parts.proxy.request(bad.target, get('/me'))).rejects.toMatchObject({ code: subdomain === '' ? 'CONNECTION_CONFIG_MISSING' : 'CONNECTION_CONFIG_INVALID' });
    }
    // Each value fits its place, yet together they make no URL: still a clear error, never a crash.
    const ported = await connect(db.sql, parts, { name: 'ported', base_url: `http://127.0.0.1:\${connectionConfig.port}`, auth: { type: 'bearer' } }, bearer('t-123456'), 'ported', { port: 'abc' });
    await expect(parts.proxy.request(ported.target, get('/me'))).rejects.toMatchObject({ code: 'CONNECTION_CONFIG_INVALID', message: expect.stringContaining('.port') });
    expect(one.seen).toHaveLength(0);
    expect(lookups).toHaveLength(0);
  });

  test('a whole-origin placeholder (Salesforce instance_url) fills the base URL, its path kept', async () => {
    const parts = proxyParts(db.sql, { lookup });
    const provider = { name: 'sf', base_url: '${connectionConfig.instance_url}/services/data/v60.0', auth: { type: 'bearer' as const } };
    const { target } = await connect(db.sql, parts, provider, bearer('sf-token-1'), 'sf', { instance_url: `https://na1.example:${one.port}/` });
    // The address guard is not turned off by connection_config: na1.example resolves to 127.0.0.1.
    await expect(parts.proxy.request(target, get('/me'))).rejects.toMatchObject({ code: 'ADDRESS_BLOCKED' });
    expect(lookups).toEqual(['na1.example']);
    // A stored value never downgrades the transport: a whole origin must be https.
    for (const [i, instance_url] of [`http://na1.example:${one.port}`, 'https://u:p@na1.example', 'https://na1.example/?x=1', 'na1.example'].entries()) {
      const bad = await connect(db.sql, parts, provider, bearer('sf-token-1'), `sf-bad-${i}`, { instance_url });
      await expect(parts.proxy.request(bad.target, get('/me'))).rejects.toMatchObject({ code: 'CONNECTION_CONFIG_INVALID', message: expect.stringContaining('connection_config.instance_url') });
    }
    expect(lookups).toEqual(['na1.example']);
    expect(one.seen).toHaveLength(0);
  });

  test('the address guard applies after templating: a public template whose host resolves to a private address is refused', async () => {
    const parts = proxyParts(db.sql, { lookup });
    const provider = { name: 'zd', base_url: `http://\${connectionConfig.subdomain}.zendesk.example:${one.port}`, auth: { type: 'bearer' as const } };
    const { target } = await connect(db.sql, parts, provider, bearer('zd-token-1'), 'zd', { subdomain: 'acme' });
    await expect(parts.proxy.request(target, get('/me'))).rejects.toMatchObject({ code: 'ADDRESS_BLOCKED' });
    // connection_config cannot name a private address as a whole origin either.
    const sf = await connect(db.sql, parts, { name: 'sf', base_url: '${connectionConfig.instance_url}', auth: { type: 'bearer' } }, bearer('sf-token-1'), 'sf', { instance_url: `https://127.0.0.1:${one.port}` });
    await expect(parts.proxy.request(sf.target, get('/me'))).rejects.toMatchObject({ code: 'ADDRESS_BLOCKED' });
    expect(one.seen).toHaveLength(0);
  });

  test('catalog entries with unusable templates are refused when stored', async () => {
    const parts = proxyParts(db.sql);
    const env = await connect(db.sql, parts, { name: 'plain', base_url: `http://127.0.0.1:${one.port}`, auth: { type: 'none' } }, { type: 'none' });
    for (const base_url of ['${subdomain}.zendesk.com', 'https://${connectionConfig.subdomain.zendesk.com', 'ftp://${connectionConfig.host}/x', '${connectionConfig.a}${connectionConfig.b}', 'https://x.example/?q=${connectionConfig.q}']) {
      await expect(parts.providers.upsert(env.environmentId, { name: 'bad', base_url, auth: { type: 'none' } })).rejects.toThrow();
    }
    await expect(parts.providers.upsert(env.environmentId, { name: 'bad', base_url: 'https://x.example', allowed_origins: ['https://files.example/path'], auth: { type: 'none' } })).rejects.toThrow(/origin/);
  });
});

describe('the proxy never weakens the transport', () => {
  test('baseUrlOverride with another scheme, port or host is refused before anything is sent', async () => {
    const parts = proxyParts(db.sql, { lookup });
    // The catalog says https; a plain-http server listens on the same host and port, where a
    // downgraded override would deliver the token in clear text.
    const { target } = await connect(db.sql, parts, { name: 'secure', base_url: `https://api.secure.localhost:${one.port}`, auth: { type: 'bearer' } }, bearer('secret-token-1'));
    for (const baseUrlOverride of [`http://api.secure.localhost:${one.port}`, 'https://api.secure.localhost', `https://api.secure.localhost:${other.port}`, `https://evil.localhost:${one.port}`, 'not a url', `https://user:pw@api.secure.localhost:${one.port}`]) {
      await expect(parts.proxy.request(target, get('/me', { baseUrlOverride }))).rejects.toMatchObject({ code: 'INVALID_BASE_URL_OVERRIDE' });
    }
    expect(one.seen).toHaveLength(0);
    expect(other.seen).toHaveLength(0);
    expect(lookups).toHaveLength(0);
  });

  test('baseUrlOverride within the declared origins, templated ones included, is used', async () => {
    const parts = proxyParts(db.sql, { lookup });
    const provider = {
      name: 'desk', base_url: `http://\${connectionConfig.subdomain}.localhost:${one.port}/api`, auth: { type: 'bearer' as const },
      allowed_origins: [`http://\${connectionConfig.subdomain}-files.two.localhost:${one.port}`],
    };
    const acme = await connect(db.sql, parts, provider, bearer('acme-token-1'), 'acme', { subdomain: 'acme' });
    const globex = await connect(db.sql, parts, provider, bearer('globex-token-2'), 'globex', { subdomain: 'globex' });
    const files = JSON.parse((await parts.proxy.request(acme.target, get('/me', { baseUrlOverride: `http://acme-files.two.localhost:${one.port}/v1` }))).body);
    expect(files).toEqual({ server: '127.0.0.2', host: `acme-files.two.localhost:${one.port}`, path: '/v1/me' });
    expect(two.seen.map((s) => s.authorization)).toEqual(['Bearer acme-token-1']);
    // The same path on the base origin is allowed too.
    expect(JSON.parse((await parts.proxy.request(acme.target, get('/me', { baseUrlOverride: `http://acme.localhost:${one.port}/other` }))).body).path).toBe('/other/me');
    // Another customer's origins are not acme's: acme's token never goes to globex's host.
    for (const baseUrlOverride of [`http://globex.localhost:${one.port}`, `http://globex-files.two.localhost:${one.port}`]) {
      await expect(parts.proxy.request(acme.target, get('/me', { baseUrlOverride }))).rejects.toMatchObject({ code: 'INVALID_BASE_URL_OVERRIDE' });
    }
    expect((await parts.proxy.request(globex.target, get('/me', { baseUrlOverride: `http://globex-files.two.localhost:${one.port}` }))).status).toBe(200);
    expect(two.seen.map((s) => s.authorization)).toEqual(['Bearer acme-token-1', 'Bearer globex-token-2']);
  });

  test('redirects stay on the declared origins: another port, scheme or host is refused and gets no credentials', async () => {
    const parts = proxyParts(db.sql, { lookup });
    const provider = { name: 'p', base_url: `http://api.localhost:${one.port}`, auth: { type: 'bearer' as const }, allowed_origins: [`http://cdn.two.localhost:${one.port}`] };
    const { target } = await connect(db.sql, parts, provider, bearer('secret-token-1'));
    for (const to of [`http://api.localhost:${other.port}/me`, `https://api.localhost:${one.port}/me`, `http://127.0.0.1:${one.port}/me`, `http://evil.two.localhost:${one.port}/me`]) {
      await expect(parts.proxy.request(target, get('/redirect', { params: { to } }))).rejects.toMatchObject({ code: 'REDIRECT_BLOCKED', message: expect.stringContaining(new URL(to).origin) });
    }
    expect(other.seen).toHaveLength(0);
    expect(two.seen).toHaveLength(0);
    expect(one.seen.every((s) => s.path === '/redirect')).toBe(true);
    // A redirect to a declared origin is followed.
    const followed = await parts.proxy.request(target, get('/redirect', { params: { to: `http://cdn.two.localhost:${one.port}/asset` } }));
    expect(JSON.parse(followed.body)).toMatchObject({ server: '127.0.0.2', path: '/asset' });
    expect(two.seen).toEqual([{ host: `cdn.two.localhost:${one.port}`, path: '/asset', authorization: 'Bearer secret-token-1' }]);
  });
});
