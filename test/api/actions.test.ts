/**
 * POST /actions/:name over real HTTP, against a whole host and the demo CRM: validated input and
 * output, write-back visible in /records at once, ActionError as a 4xx with type and payload,
 * script failures and limits as 5xx with the typed run error, every call recorded as a run, and
 * the async mode (202, then a status URL that settles).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { deploySources, readAll, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';

const MODELS = fileURLToPath(new URL('../../scripts/demo/models.ts', import.meta.url));
const CONNECTION = 'crm-1';


const CREATE_CONTACT = `
import { ActionError, createAction } from 'ferry/sdk';
import { ContactSchema, NewContactSchema } from ${JSON.stringify(MODELS)};
export default createAction({
  description: 'create a contact and save it as a record',
  input: NewContactSchema,
  output: ContactSchema,
  models: { Contact: ContactSchema },
  exec: async (nango, input) => {
    nango.log('creating', input.email);
    const response = await nango.post({ endpoint: '/v1/contacts', data: input, retries: 0 });
    if (response.status >= 400) throw new ActionError({ type: 'provider_rejected', message: 'rejected', status: response.status });
    await nango.batchSave([response.data.data], 'Contact');
    return response.data.data;
  },
});`;

const MISBEHAVE = `
import { ActionError, createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'fails in every way it is asked to',
  input: z.object({ mode: z.enum(['refuse', 'nango-refuse', 'throw', 'bad-output', 'undeclared']) }),
  output: z.object({ ok: z.boolean() }),
  exec: async (nango, input) => {
    if (input.mode === 'refuse') throw new ActionError({ type: 'not_allowed', message: 'this contact is locked', contact: 'c-1' });
    if (input.mode === 'nango-refuse') {
      const connection = await nango.getConnection();
      throw new nango.ActionError({ type: 'locked', message: 'locked, Nango style', seen: { keys: Object.keys(connection).sort(), key: connection.provider_config_key } });
    }
    if (input.mode === 'throw') throw new Error('boom');
    if (input.mode === 'undeclared') await (nango as any).batchSave([{ id: '1' }], 'Contact');
    return { ok: 'yes' } as any;
  },
});`;

// No zod: its top level is cheap, so a tight CPU limit is reached only by the loop, even on a busy machine.
const SPIN = `
import { createAction } from 'ferry/sdk';
const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };
export default createAction({
  description: 'never returns',
  input: anything,
  output: anything,
  limits: { cpuTimeMs: 500 },
  exec: async () => { for (;;) {} },
});`;

let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'provider-key', contacts: 3, seed: 3 });
  ferry = await startTestFerry();
  await deploySources(ferry, { 'demo/actions/create-contact.ts': CREATE_CONTACT, 'demo/actions/misbehave.ts': MISBEHAVE, 'demo/actions/spin.ts': SPIN });
  expect((await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: CONNECTION, provider: 'demo', credentials: { type: 'bearer', token: 'provider-key' } })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const newContact = { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com' };

describe('a synchronous action', () => {
  test('returns its validated output, and the app reads the record it saved at once', async () => {
    const { status, body } = await ferry.api.post('/actions/create-contact', { connection_id: CONNECTION, input: newContact });
    expect(status).toBe(200);
    expect(body.output).toMatchObject({ ...newContact, id: expect.any(String) });
    expect(provider.contacts().map((c) => c.id)).toContain(body.output.id);

    const { records } = await readAll(ferry.api, CONNECTION, 'Contact');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: body.output.id, email: newContact.email, _ferry_metadata: { last_action: 'added' } });

    const run = await ferry.api.get(`/runs/${body.run_id}`);
    expect(run.body).toMatchObject({ kind: 'action', sync: 'create-contact', status: 'succeeded', trigger: 'api', counts: { added: 1 } });
    expect(run.body.usage.wall_ms).toBeGreaterThanOrEqual(0);
    const logs = await ferry.api.get(`/runs/${body.run_id}/logs`);
    expect(logs.body.logs.map((l: any) => l.message)).toContain('creating ada@example.com');
  });

  test('invalid input is a 400 naming the field, and the provider is never called', async () => {
    const before = provider.requests.length;
    const { status, body } = await ferry.api.post('/actions/create-contact', { connection_id: CONNECTION, input: { first_name: 'A' } });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'INVALID_INPUT', run_id: expect.any(String) });
    expect(body.error.message).toMatch(/email/);
    expect(provider.requests.length).toBe(before);
  });

  test("an ActionError is a 400 carrying the script's type and payload", async () => {
    const { status, body } = await ferry.api.post('/actions/misbehave', { connection_id: CONNECTION, input: { mode: 'refuse' } });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'ACTION_ERROR', type: 'not_allowed', message: 'this contact is locked', payload: { contact: 'c-1' } });
    expect((await ferry.api.get(`/runs/${body.error.run_id}`)).body).toMatchObject({ status: 'failed', error: { code: 'ACTION_ERROR' } });
  });

  test('nango.ActionError on the context is the same: a 400 with type and payload; getConnection has Nango\'s fields and no credentials', async () => {
    const { status, body } = await ferry.api.post('/actions/misbehave', { connection_id: CONNECTION, input: { mode: 'nango-refuse' } });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'ACTION_ERROR', type: 'locked', message: 'locked, Nango style' });
    expect(body.error.payload.seen).toEqual({ keys: ['connection_config', 'connection_id', 'metadata', 'provider', 'provider_config_key'], key: body.error.payload.seen.key });
    expect(body.error.payload.seen.key).toEqual(expect.any(String));
  });

  test('a script failure, an invalid output, a limit and an undeclared model are 5xx with the typed run error', async () => {
    const call = (mode: string) => ferry.api.post('/actions/misbehave', { connection_id: CONNECTION, input: { mode } });
    const thrown = await call('throw');
    expect(thrown.status).toBe(500);
    expect(thrown.body.error).toMatchObject({ code: 'SCRIPT_ERROR', message: 'boom', run_error: { kind: 'script', code: 'SCRIPT_ERROR' } });
    expect(thrown.body.error.run_error).not.toHaveProperty('stack');

    const badOutput = await call('bad-output');
    expect(badOutput.status).toBe(500);
    expect(badOutput.body.error.run_error).toMatchObject({ kind: 'sdk', code: 'INVALID_OUTPUT' });

    const spun = await ferry.api.post('/actions/spin', { connection_id: CONNECTION, input: {} });
    expect(spun.status).toBe(500);
    expect(spun.body.error.run_error).toMatchObject({ kind: 'limit', code: 'CPU' });

    const undeclared = await call('undeclared');
    expect(undeclared.status).toBe(500);
    expect(undeclared.body.error.message).toMatch(/Contact/);
  });

  test('unknown actions and connections are 404; a sync name is not an action', async () => {
    expect((await ferry.api.post('/actions/nope', { connection_id: CONNECTION, input: {} })).body.error.code).toBe('NOT_FOUND');
    const noConnection = await ferry.api.post('/actions/create-contact', { connection_id: 'nobody', input: newContact });
    expect(noConnection.status).toBe(404);
    const unknownField = await ferry.api.post('/actions/create-contact', { connection_id: CONNECTION, input: newContact, surprise: true });
    expect(unknownField.status).toBe(400);
    // An action belongs to its provider: another provider's connection is refused before anything runs.
    expect((await ferry.api.put('/providers/other', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
    expect((await ferry.api.post('/connections', { connection_id: 'other-1', provider: 'other' })).status).toBe(201);
    const mismatch = await ferry.api.post('/actions/create-contact', { connection_id: 'other-1', input: newContact });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.code).toBe('PROVIDER_MISMATCH');
  });
});

describe('an asynchronous action', () => {
  test('answers 202 with a status URL that settles with the output and the run', async () => {
    const input = { first_name: 'Grace', last_name: 'Hopper', email: 'grace@example.com' };
    const queued = await ferry.api.post('/actions/create-contact', { connection_id: CONNECTION, input, async: true });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ status: 'queued', status_url: `/actions/jobs/${queued.body.id}` });

    const done = await waitFor('the async action to settle', async () => {
      const { body } = await ferry.api.get(queued.body.status_url);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    });
    expect(done).toMatchObject({ status: 'succeeded', action: 'create-contact', connection_id: CONNECTION, output: { email: input.email }, error: null });
    expect((await ferry.api.get(`/runs/${done.run_id}`)).body).toMatchObject({ kind: 'action', trigger: 'async', status: 'succeeded' });
    const { records } = await readAll(ferry.api, CONNECTION, 'Contact');
    expect(records.map((r) => r.email)).toContain(input.email);
  });

  test('a failure settles as failed with the run error', async () => {
    const queued = await ferry.api.post('/actions/misbehave', { connection_id: CONNECTION, input: { mode: 'refuse' }, async: true });
    expect(queued.status).toBe(202);
    const done = await waitFor('the async action to fail', async () => {
      const { body } = await ferry.api.get(queued.body.status_url);
      return body.status === 'failed' ? body : undefined;
    });
    expect(done.error).toMatchObject({ code: 'ACTION_ERROR', type: 'not_allowed', payload: { contact: 'c-1' } });
    expect(done.output).toBeNull();
    expect((await ferry.api.get('/actions/jobs/999999')).status).toBe(404);
  });

  test('a call whose worker died reads as failed with the run error the stale-run sweep wrote', async () => {
    const queued = await ferry.api.post('/actions/misbehave', { connection_id: CONNECTION, input: { mode: 'refuse' }, async: true });
    const settled = await waitFor('the async action to settle', async () => {
      const { body } = await ferry.api.get(queued.body.status_url);
      return body.status === 'failed' ? body : undefined;
    });
    // As if its worker died mid-run: the job is left running and the sweep failed its run.
    await ferry.db.sql`update action_jobs set status = 'running', error = null, finished_at = null where id = ${settled.id}`;
    await ferry.db.sql`update runs set error = ${JSON.stringify({ kind: 'internal', code: 'WORKER_LOST', message: 'no heartbeat' })}::text::jsonb where id = ${settled.run_id}`;
    const { body } = await ferry.api.get(queued.body.status_url);
    expect(body).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
  });
});
