/**
 * The whole path, end to end: deploy the example scripts over HTTP, let the scheduler run the
 * incremental contacts sync against a real provider server, read every record over HTTP, then
 * follow changes by cursor through an incremental run and a failed one.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { readAll, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const SCRIPTS_DIR = fileURLToPath(new URL('../../scripts', import.meta.url));
const CONNECTION = 'acme-crm';

let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'provider-key', contacts: 250, seed: 7 });
  ferry = await startTestFerry();
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

describe('a sync from deploy to records over HTTP', () => {
  let cursor: string | null = null;
  let firstRun: any;

  test('deploy, connect, and the first run saves every contact', async () => {
    const deployed = await deployScripts({ dir: SCRIPTS_DIR, url: ferry.url, key: TEST_SECRET_KEY });
    expect(deployed.scripts.find((s) => s.name === 'contacts')).toMatchObject({ kind: 'sync', status: 'new' });

    expect((await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
    const created = await ferry.api.post('/connections', { connection_id: CONNECTION, provider: 'demo', credentials: { type: 'bearer', token: 'provider-key' } });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('credentials');

    // No trigger: a new connection's first run is due at once.
    firstRun = await waitForRun(ferry.api, CONNECTION, 'contacts');
    expect(firstRun).toMatchObject({ status: 'succeeded', full: true, counts: { added: 250, updated: 0, rejected: 0 } });
    expect(firstRun.usage.peak_heap_bytes).toBeGreaterThan(0);

    const all = await readAll(ferry.api, CONNECTION, 'Contact');
    cursor = all.cursor;
    expect(all.records).toHaveLength(250);
    expect(new Set(all.records.map((r) => r.id))).toEqual(new Set(provider.contacts().map((c) => c.id)));
    const sample = all.records[0];
    expect(sample._ferry_metadata).toMatchObject({ last_action: 'added', deleted_at: null });
    expect(sample.email).toBe(provider.contacts().find((c) => c.id === sample.id)!.email);

    const status = await ferry.api.get(`/syncs/contacts/status?connection_id=${CONNECTION}`);
    expect(new Date(status.body.last_sync_date).toISOString()).toBe(new Date(firstRun.started_at).toISOString());
  });

  test('an incremental run asks only for changes and a cursor reader sees exactly those', async () => {
    const changed = provider.updateContacts(3);
    const requestsBefore = provider.requests.length;
    expect((await ferry.api.post('/syncs/contacts/trigger', { connection_id: CONNECTION })).status).toBe(202);
    const run = await waitForRun(ferry.api, CONNECTION, 'contacts', firstRun.id);
    expect(run).toMatchObject({ status: 'succeeded', full: false, counts: { added: 0, updated: 3 } });

    const asked = provider.requests.slice(requestsBefore).filter((r) => r.path === '/v1/contacts');
    expect(asked.length).toBeGreaterThan(0);
    for (const r of asked) expect(new Date(r.query.updated_since!).toISOString()).toBe(new Date(firstRun.started_at).toISOString());

    const delta = await readAll(ferry.api, CONNECTION, 'Contact', cursor);
    expect(delta.records.map((r) => r.id).sort()).toEqual([...changed].sort());
    expect(delta.records.every((r) => r._ferry_metadata.last_action === 'updated')).toBe(true);
    cursor = delta.cursor;
    firstRun = run;
  });

  test('a failed run leaves lastSyncDate where it was and the next run catches up', async () => {
    const before = (await ferry.api.get(`/syncs/contacts/status?connection_id=${CONNECTION}`)).body.last_sync_date;
    const changed = provider.updateContacts(2);
    provider.failNext(500, 20);
    await ferry.api.post('/syncs/contacts/trigger', { connection_id: CONNECTION });
    const failed = await waitForRun(ferry.api, CONNECTION, 'contacts', firstRun.id);
    expect(failed.status).toBe('failed');
    expect(failed.error.message).toMatch(/500/);
    expect((await ferry.api.get(`/syncs/contacts/status?connection_id=${CONNECTION}`)).body.last_sync_date).toBe(before);

    provider.failNext(500, 0);
    const requestsBefore = provider.requests.length;
    await ferry.api.post('/syncs/contacts/trigger', { connection_id: CONNECTION });
    const recovered = await waitForRun(ferry.api, CONNECTION, 'contacts', failed.id);
    expect(recovered).toMatchObject({ status: 'succeeded', counts: { updated: 2 } });
    const asked = provider.requests.slice(requestsBefore).filter((r) => r.path === '/v1/contacts');
    expect(new Date(asked[0]!.query.updated_since!).toISOString()).toBe(new Date(before).toISOString());

    const delta = await readAll(ferry.api, CONNECTION, 'Contact', cursor);
    expect(delta.records.map((r) => r.id).sort()).toEqual([...changed].sort());
  });

  test('every finished run reports its usage, peak heap included', async () => {
    const { body } = await ferry.api.get(`/runs?connection_id=${CONNECTION}&sync=contacts`);
    expect(body.runs.length).toBeGreaterThanOrEqual(4);
    for (const run of body.runs) {
      expect(run.usage.peak_heap_bytes).toBeGreaterThan(0);
      expect(run.usage.wall_ms).toBeGreaterThanOrEqual(0);
    }
    const logs = await ferry.api.get(`/runs/${body.runs[0].id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body.logs.length).toBeGreaterThan(0);
  });
});

describe('bad input gets a JSON 4xx naming what was wrong', () => {
  test('missing and malformed query fields', async () => {
    const missing = await ferry.api.get('/records?model=Contact');
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('INVALID_REQUEST');
    expect(missing.body.error.issues.map((i: any) => i.path.join('.'))).toContain('query.connection_id');

    const badLimit = await ferry.api.get(`/records?connection_id=${CONNECTION}&model=Contact&limit=0`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.message).toMatch(/limit/);

    const badCursor = await ferry.api.get(`/records?connection_id=${CONNECTION}&model=Contact&cursor=abc`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.message).toMatch(/cursor/);
  });

  test('unknown ids are 404, a missing key is 401, malformed JSON is 400', async () => {
    expect((await ferry.api.get('/records?connection_id=nobody&model=Contact')).status).toBe(404);
    expect((await ferry.api.get('/runs/999999')).status).toBe(404);
    expect((await ferry.api.post('/syncs/nope/trigger', { connection_id: CONNECTION })).status).toBe(404);
    const unauth = await ferry.api.request('GET', `/runs?connection_id=${CONNECTION}`, undefined, null);
    expect(unauth.status).toBe(401);
    expect(unauth.body.error.code).toBe('UNAUTHORIZED');
    const badJson = await ferry.api.request('POST', '/connections', '{"connection_id":', TEST_SECRET_KEY);
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('INVALID_JSON');
    const unknownField = await ferry.api.post('/syncs/contacts/trigger', { connection_id: CONNECTION, surprise: 1 });
    expect(unknownField.status).toBe(400);
  });
});
