/**
 * Tenancy over HTTP: environments created with the admin key, each with its own secret keys
 * (hashed at rest, rotatable, revocable), and one environment never sees another's deploys,
 * connections, records, runs, logs or action jobs: their ids answer 404, not 403.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApi, type ApiDeps } from '../../host/api/app.ts';
import { createLogger } from '../../host/logger.ts';
import { deploySources, createApiClient, idForThisAttempt, newEnvironment, startTestFerry, waitFor, type ApiClient, type TestEnvironment, type TestFerry } from '../helpers/ferry.ts';

const ADMIN_KEY = 'admin_key_0123456789abcdef';


const TOUCH = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
const Thing = z.object({ id: z.string() });
export default createAction({
  description: 'saves one Thing',
  input: z.object({ id: z.string() }),
  output: z.object({ id: z.string() }),
  models: { Thing },
  exec: async (nango, input) => {
    nango.log('touching', input.id);
    await nango.batchSave([{ id: input.id }], 'Thing');
    return input;
  },
});`;

let ferry: TestFerry;
let dev: ApiClient;
const admin = () => createApiClient(ferry.url, ADMIN_KEY);

/**
 * An environment of this attempt's own (`base`, then `base-2`… on CI's retry), made with the
 * admin key, with its first key labelled `ci`: a test that rotates, revokes or writes into an
 * environment starts from a fresh one, whatever an earlier attempt left.
 */
async function environment(base: string): Promise<TestEnvironment> {
  const made = await newEnvironment(ferry, base, { adminKey: ADMIN_KEY, keyLabel: 'ci' });
  expect(made.created).toMatchObject({ name: made.name, key: { label: 'ci', secret: expect.stringMatching(/^fsk_/) } });
  return made;
}

beforeAll(async () => {
  ferry = await startTestFerry({ FERRY_ADMIN_KEY: ADMIN_KEY });
  dev = ferry.api;
  await deploySources(ferry, { 'demo/actions/touch.ts': TOUCH });
  expect((await dev.put('/providers/demo', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await dev.post('/connections', { connection_id: 'shared', provider: 'demo' })).status).toBe(201);
  expect((await dev.post('/connections', { connection_id: 'dev-only', provider: 'demo' })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
});

describe('environments', () => {
  test('are created only with the admin key, and the new key is shown once', async () => {
    const name = idForThisAttempt('prod');
    expect((await ferry.api.request('POST', '/environments', { name }, null)).status).toBe(401);
    const withEnvKey = await dev.post('/environments', { name });
    expect(withEnvKey.status).toBe(401);
    expect(withEnvKey.body.error.code).toBe('UNAUTHORIZED');

    const created = await admin().post('/environments', { name, key_label: 'ci' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, key: { label: 'ci', secret: expect.stringMatching(/^fsk_/) } });
    const prod = createApiClient(ferry.url, created.body.key.secret);
    expect((await prod.get('/environment')).body).toMatchObject({ name });

    expect((await admin().post('/environments', { name })).status).toBe(409);
    expect((await admin().post('/environments', { name: 'Bad Name' })).status).toBe(400);
    // Every environment there is (other tests make their own), the default one and this one among them.
    const listed = (await admin().get('/environments')).body.environments.map((e: any) => e.name);
    const stored = (await ferry.db.sql<{ name: string }[]>`select name from environments`).map((r) => r.name);
    expect([...listed].sort()).toEqual([...stored].sort());
    expect(listed).toEqual(expect.arrayContaining(['dev', name]));
  });

  test('cannot be created over HTTP when the host has no admin key', async () => {
    const app = createApi({ logger: createLogger({ level: 'silent' }), adminKey: undefined } as unknown as ApiDeps);
    const response = await app.request('/environments', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` }, body: '{"name":"x"}' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as any).error.code).toBe('ADMIN_DISABLED');
  });

  test('keys are stored as hashes only', async () => {
    const { key, api } = await environment('hashed');
    const rows = await ferry.db.sql<{ key_hash: string }[]>`select key_hash from api_keys`;
    const hashes = rows.map((r) => r.key_hash);
    expect(hashes).toContain(createHash('sha256').update(key).digest('hex'));
    expect(hashes).not.toContain(key);
    const listed = await api.get('/environment/keys');
    expect(listed.body.keys).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect(listed.body.keys[0].prefix).toBe(key.slice(0, 8));
  });
});

describe('isolation between environments', () => {
  let prod: ApiClient;
  let runId: string;
  let jobId: string;

  beforeAll(async () => {
    prod = (await environment('isolated')).api;
    const run = await dev.post('/actions/touch', { connection_id: 'shared', input: { id: 'dev-thing' } });
    expect(run.status).toBe(200);
    runId = run.body.run_id;
    const job = await dev.post('/actions/touch', { connection_id: 'dev-only', input: { id: 'x' }, async: true });
    jobId = job.body.id;
    await waitFor('the async action', async () => ((await dev.get(`/actions/jobs/${jobId}`)).body.status === 'succeeded' ? true : undefined));
    // prod has a connection with the same id, of its own.
    expect((await prod.put('/providers/demo', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
    expect((await prod.post('/connections', { connection_id: 'shared', provider: 'demo' })).status).toBe(201);
  });

  test("another environment's connection, run, logs and action job ids are 404", async () => {
    for (const path of ['/connections/dev-only', `/runs/${runId}`, `/runs/${runId}/logs`, `/actions/jobs/${jobId}`, '/runs?connection_id=dev-only', '/records?connection_id=dev-only&model=Thing']) {
      const { status, body } = await prod.get(path);
      expect(status, path).toBe(404);
      expect(body.error.code, path).toBe('NOT_FOUND');
    }
    // The owner still sees all of them.
    expect((await dev.get(`/runs/${runId}`)).status).toBe(200);
    expect((await dev.get(`/actions/jobs/${jobId}`)).status).toBe(200);
  });

  test("the same connection id in two environments holds each one's own records", async () => {
    const devPage = await dev.get('/records?connection_id=shared&model=Thing');
    expect(devPage.body.records.map((r: any) => r.id)).toEqual(['dev-thing']);
    // prod deployed nothing that declares Thing and holds none: an unknown model, not dev's records.
    const prodPage = await prod.get('/records?connection_id=shared&model=Thing');
    expect(prodPage.status).toBe(404);
    expect(prodPage.body.error.code).toBe('UNKNOWN_MODEL');
    expect(JSON.stringify(prodPage.body)).not.toContain('dev-thing');
    expect((await prod.get('/runs?connection_id=shared')).body.runs).toEqual([]);
  });

  test("re-encrypting credentials touches only the caller's environment", async () => {
    // Two environments of this attempt's own, each with a row from before encryption existed (plaintext, no key id).
    const first = await environment('legacy-first');
    const second = await environment('legacy-second');
    const envs = await ferry.db.sql<{ id: string; name: string }[]>`select id, name from environments where name in (${first.name}, ${second.name})`;
    const envId = (name: string) => envs.find((e) => e.name === name)!.id;
    for (const { name } of [first, second]) {
      await ferry.db.sql`
        insert into connections (environment_id, connection_id, provider, credentials)
        values (${envId(name)}, 'legacy', 'demo', ${JSON.stringify({ type: 'bearer', token: `${name}-legacy-secret` })}::text::jsonb)`;
    }
    const plaintextEnvs = async () => (await ferry.db.sql<{ name: string }[]>`
      select e.name from connections c join environments e on e.id = c.environment_id
      where c.credentials_key_id is null and e.name in (${first.name}, ${second.name}) order by e.name`).map((r) => r.name);
    expect(await plaintextEnvs()).toEqual([first.name, second.name].sort());

    const byFirst = await first.api.post('/credentials/reencrypt');
    expect(byFirst).toMatchObject({ status: 200, body: { reencrypted: 1 } });
    expect(await plaintextEnvs()).toEqual([second.name]);
    const [secondRow] = await ferry.db.sql<{ credentials: { token: string } }[]>`
      select credentials from connections where environment_id = ${envId(second.name)} and connection_id = 'legacy'`;
    expect(secondRow!.credentials.token).toBe(`${second.name}-legacy-secret`);

    expect((await second.api.post('/credentials/reencrypt')).body).toEqual({ reencrypted: 1 });
    expect(await plaintextEnvs()).toEqual([]);
  });

  test("another environment's deploys and scripts are invisible and cannot run", async () => {
    expect((await dev.get('/deploys')).body.deploys).toHaveLength(1);
    expect((await prod.get('/deploys')).body.deploys).toEqual([]);
    expect((await prod.get('/deploys/1')).status).toBe(404);
    expect((await prod.post('/deploys/1/rollback')).status).toBe(404);
    expect((await prod.get('/scripts')).body.scripts).toEqual([]);
    expect((await prod.post('/actions/touch', { connection_id: 'shared', input: { id: 'p' } })).status).toBe(404);
  });
});

describe('keys', () => {
  test('rotate: a new key is returned once and the key that asked is revoked', async () => {
    const { name, api: old } = await environment('rotating');
    const rotated = await old.post('/environment/keys', { label: 'rotated', revoke_current: true });
    expect(rotated.status).toBe(201);
    expect(rotated.body.revoked_key_id).toEqual(expect.any(String));
    const current = createApiClient(ferry.url, rotated.body.secret);
    const refused = await old.get('/environment');
    expect(refused.status).toBe(401);
    expect((await current.get('/environment')).body.name).toBe(name);
    const keys = (await current.get('/environment/keys')).body.keys;
    expect(keys.map((k: any) => [k.label, k.revoked_at === null ? 'live' : 'revoked'])).toEqual([['ci', 'revoked'], ['rotated', 'live']]);
  });

  test('revoke: the key stops working at once; the last live key and other environments\' keys cannot be revoked', async () => {
    const { api: prod } = await environment('revoking');
    const extra = await prod.post('/environment/keys', { label: 'temporary' });
    const temp = createApiClient(ferry.url, extra.body.secret);
    expect((await temp.get('/environment')).status).toBe(200);
    expect((await prod.request('DELETE', `/environment/keys/${extra.body.id}`)).status).toBe(204);
    expect((await temp.get('/environment')).status).toBe(401);

    const live = (await prod.get('/environment/keys')).body.keys.filter((k: any) => k.revoked_at === null);
    expect(live).toHaveLength(1);
    const last = await prod.request('DELETE', `/environment/keys/${live[0].id}`);
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('LAST_KEY');

    const devKeyId = (await dev.get('/environment/keys')).body.keys[0].id;
    expect((await prod.request('DELETE', `/environment/keys/${devKeyId}`)).status).toBe(404);
    expect((await dev.get('/environment')).status).toBe(200);
  });
});
