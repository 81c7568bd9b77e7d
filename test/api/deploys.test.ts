/**
 * Deploy history over HTTP: versions listed newest first, each version's full set of scripts,
 * and rollback re-activating a version's scripts (as a new version) with schedules following:
 * the restored frequency applies, a sync the version lacked is removed, one it had is back.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

const CONNECTION = 'conn-1';
const HOUR = 3_600_000;


const sync = (frequency: string) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'a sync that never needs to run here',
  frequency: ${JSON.stringify(frequency)},
  autoStart: false,
  models: { Thing: z.object({ id: z.string() }) },
  exec: async () => {},
});`;

const ping = (v: number) => `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'says which version it is',
  input: z.object({}),
  output: z.object({ v: z.number() }),
  exec: async () => ({ v: ${v} }),
});`;

const V1 = { 'demo/syncs/contacts.ts': sync('every hour'), 'demo/actions/ping.ts': ping(1) };
const V2 = { 'demo/syncs/contacts.ts': sync('every 2 hours'), 'demo/actions/ping.ts': ping(2), 'demo/syncs/extra.ts': sync('every day') };
const V3 = { 'demo/syncs/contacts.ts': sync('every 2 hours'), 'demo/actions/ping.ts': ping(2) };

let ferry: TestFerry;

beforeAll(async () => {
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/demo', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: CONNECTION, provider: 'demo' })).status).toBe(201);
  expect((await deploySources(ferry, V1)).version).toBe(1);
  expect((await deploySources(ferry, V2)).version).toBe(2);
  expect((await deploySources(ferry, V3)).version).toBe(3);
}, 90_000);
afterAll(async () => {
  await ferry?.close();
});

const pingVersion = async () => (await ferry.api.post('/actions/ping', { connection_id: CONNECTION, input: {} })).body.output.v;
const frequencyOf = async (syncName: string) => {
  const { status, body } = await ferry.api.get(`/syncs/${syncName}/status?connection_id=${CONNECTION}`);
  return status === 200 ? body.frequency_ms : status;
};

describe('deploy history', () => {
  test('lists versions newest first, the latest active', async () => {
    const { status, body } = await ferry.api.get('/deploys');
    expect(status).toBe(200);
    expect(body.deploys.map((d: any) => [d.version, d.active, d.scripts])).toEqual([[3, true, 2], [2, false, 3], [1, false, 2]]);
  });

  test('shows every script a version left active, with the version that deployed its code', async () => {
    const { body } = await ferry.api.get('/deploys/2');
    expect(body).toMatchObject({ version: 2, active: false, rollback_of: null });
    expect(body.scripts.map((s: any) => [s.name, s.kind, s.version])).toEqual([['contacts', 'sync', 2], ['extra', 'sync', 2], ['ping', 'action', 2]]);
    expect(body.scripts[0]).not.toHaveProperty('code');
    expect((await ferry.api.get('/deploys/99')).status).toBe(404);
    expect((await ferry.api.get('/deploys/abc')).status).toBe(400);
  });
});

describe('rollback', () => {
  test('re-activates the old scripts as a new version and restores their schedules', async () => {
    expect(await pingVersion()).toBe(2);
    expect(await frequencyOf('contacts')).toBe(2 * HOUR);

    const { status, body } = await ferry.api.post('/deploys/1/rollback');
    expect(status).toBe(200);
    expect(body).toMatchObject({ version: 4, rollback_of: 1 });
    expect(body.scripts).toEqual(expect.arrayContaining([{ name: 'ping', provider: 'demo', kind: 'action', status: 'changed' }, { name: 'contacts', provider: 'demo', kind: 'sync', status: 'changed' }]));
    expect(await pingVersion()).toBe(1);
    expect(await frequencyOf('contacts')).toBe(HOUR);
    expect((await ferry.api.get('/deploys')).body.deploys[0]).toMatchObject({ version: 4, active: true, rollback_of: 1 });
  });

  test('brings back a sync the restored version had, and removes one it lacked', async () => {
    expect(await frequencyOf('extra')).toBe(404);
    const toV2 = await ferry.api.post('/deploys/2/rollback');
    expect(toV2.body).toMatchObject({ version: 5, rollback_of: 2 });
    expect(toV2.body.scripts).toContainEqual({ name: 'extra', provider: 'demo', kind: 'sync', status: 'new' });
    expect(await frequencyOf('extra')).toBe(24 * HOUR);
    expect(await pingVersion()).toBe(2);

    const toV1 = await ferry.api.post('/deploys/1/rollback');
    expect(toV1.body.scripts).toContainEqual({ name: 'extra', provider: 'demo', kind: 'sync', status: 'removed' });
    expect(await frequencyOf('extra')).toBe(404);
  });

  test('to what is already active changes nothing, and a deploy afterwards diffs against the restored set', async () => {
    const again = await ferry.api.post('/deploys/1/rollback');
    expect(again.body.version).toBe(6);
    expect(again.body.rollback_of).toBeNull();
    expect(again.body.scripts.every((s: any) => s.status === 'unchanged')).toBe(true);

    const redeploy = await deploySources(ferry, V1);
    expect(redeploy.version).toBe(6);
    expect(redeploy.scripts.every((s) => s.status === 'unchanged')).toBe(true);
    expect((await ferry.api.post('/deploys/42/rollback')).status).toBe(404);
  });
});
