/**
 * A failed run's recorded error names the script author's source: `scripts/<…>.ts:line:col`,
 * mapped by the host through the source map deployed with the bundle, for sync runs, actions
 * (answered and queued), webhook runs and a top level that throws at deploy. Whatever a hostile
 * script throws (no Error, getters that throw, forged or endless frames) stays a recorded error
 * and the host keeps serving.
 */
import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const SECRET = 'whsec_source_locations_test';

// Line and column numbers below are asserted: keep the layout of these sources as it is.
const PARSE = `export function parsePage(body: unknown): Array<{ id: string }> {
  if (typeof body === 'object') {
    throw new Error('unexpected page shape');
  }
  return [];
}
`;

const FAILING = `import { createSync } from 'ferry/sdk';
import { z } from 'zod';
import { parsePage } from '../lib/parse';

export default createSync({
  description: 'fails parsing the first page; its webhooks fail too',
  frequency: 'every 1 hour',
  models: { Contact: z.object({ id: z.string() }) },
  webhookSubscriptions: ['contact.updated'],
  exec: async (nango) => {
    const res = await nango.get({ endpoint: '/v1/contacts', retries: 0 });
    await nango.batchSave(parsePage(res.data), 'Contact');
  },
  onWebhook: async (nango, payload: { type: string }) => {
    if (payload.type === 'contact.updated') throw new TypeError('webhook not handled');
  },
});
`;

const HOSTILE = `import { createAction } from 'ferry/sdk';
import { z } from 'zod';

export default createAction({
  description: 'throws whatever it is asked to',
  input: z.object({ mode: z.string() }),
  output: z.object({ ok: z.boolean() }),
  exec: async (nango, { mode }) => {
    if (mode === 'plain') throw new RangeError('plain failure');
    if (mode === 'string') throw 'just a string';
    if (mode === 'getters') {
      throw { get message(): string { throw new Error('no message'); }, get stack(): string { throw new Error('no stack'); } };
    }
    if (mode === 'forged') {
      const error = new Error('forged');
      error.stack = 'Error: forged\\n    at evil (scripts/evil.ts:1:1)\\n' + '    at x (file:///script.js:999999:5)\\n'.repeat(200_000);
      throw error;
    }
    if (mode === 'frames-in-message') throw new Error('look:\\n    at fake (file:///script.js:1:1)\\n    at fake (scripts/evil.ts:9:9)');
    if (mode === 'deep') {
      (Error as unknown as { stackTraceLimit: number }).stackTraceLimit = Infinity;
      const down = (n: number): never => { if (n === 0) throw new Error('deep'); return down(n - 1); };
      down(5000);
    }
    if (mode === 'logged') try { throw new Error('caught and logged'); } catch (err) { await nango.log(err); }
    return { ok: true };
  },
});
`;

const TOP_LEVEL = `import { createSync } from 'ferry/sdk';

const settings = JSON.parse('null') as { region: string };
const region = settings.region.toUpperCase();
export default createSync({ description: 'x', frequency: 'every 1 hour', models: {}, exec: async () => { void region; } });
`;

let ferry: TestFerry;
let provider: DemoProvider;
let project: string;

async function writeScripts(files: Record<string, string>) {
  for (const [path, source] of Object.entries(files)) {
    await mkdir(dirname(join(project, path)), { recursive: true });
    await writeFile(join(project, path), source);
  }
}

const deploy = () => deployScripts({ dir: join(project, 'scripts'), url: ferry.url, key: TEST_SECRET_KEY });
const runById = async (id: string) => (await ferry.api.get(`/runs/${id}`)).body;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'provider-key', contacts: 2, seed: 3 });
  ferry = await startTestFerry();
  project = await mkdtemp(join(tmpdir(), 'ferry-source-locations-'));
  await writeScripts({ 'scripts/crm/lib/parse.ts': PARSE, 'scripts/crm/syncs/failing.ts': FAILING, 'scripts/crm/actions/hostile.ts': HOSTILE });
  await deploy();
  expect((await ferry.api.put('/providers/crm', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'crm-1', provider: 'crm', credentials: { type: 'bearer', token: 'provider-key' } })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await ferry?.close();
  await provider?.close();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('a sync run', () => {
  test('records the error at the line of the helper file that threw, and the stack in .ts files', async () => {
    const run = await waitForRun(ferry.api, 'crm-1', 'failing', '0', 60_000);
    expect(run).toMatchObject({ status: 'failed', error: { code: 'SCRIPT_ERROR', message: 'unexpected page shape' } });
    expect(run.error.location).toEqual({ file: 'scripts/crm/lib/parse.ts', line: 3, column: 11 });
    expect(run.error.stack).toContain('scripts/crm/lib/parse.ts:3:11');
    expect(run.error.stack).toMatch(/scripts\/crm\/syncs\/failing\.ts:12:\d+/);
    expect(run.error.stack).not.toContain('file:///script.js');
  }, 90_000);

  test('a redeploy that only moves lines replaces the map: the next run names the new line', async () => {
    const before = await waitForRun(ferry.api, 'crm-1', 'failing', '0', 60_000);
    await writeScripts({ 'scripts/crm/lib/parse.ts': `// a comment above moves every line down\n\n${PARSE}` });
    const redeployed = await deploy();
    expect(redeployed.scripts.find((s) => s.name === 'failing')?.status).toBe('changed');
    expect((await ferry.api.post('/syncs/failing/trigger', { connection_id: 'crm-1' })).status).toBe(202);
    const run = await waitForRun(ferry.api, 'crm-1', 'failing', before.id, 60_000);
    expect(run.error.location).toEqual({ file: 'scripts/crm/lib/parse.ts', line: 5, column: 11 });
    await writeScripts({ 'scripts/crm/lib/parse.ts': PARSE });
    await deploy();
  }, 90_000);
});

describe('an action', () => {
  test('answered: the run records the throw in the action file; the app gets the run id, no stack', async () => {
    const { status, body } = await ferry.api.post('/actions/hostile', { connection_id: 'crm-1', input: { mode: 'plain' } });
    expect(status).toBe(500);
    expect(body.error.run_error).toMatchObject({ code: 'SCRIPT_ERROR', message: 'plain failure' });
    expect(body.error.run_error.stack).toBeUndefined();
    const run = await runById(body.error.run_id);
    expect(run.error.location).toEqual({ file: 'scripts/crm/actions/hostile.ts', line: 9, column: 33 });
    expect(run.error.stack).toContain('RangeError: plain failure');
  });

  test('queued: the job fails and its run records the same location', async () => {
    const queued = await ferry.api.post('/actions/hostile', { connection_id: 'crm-1', input: { mode: 'plain' }, async: true });
    expect(queued.status).toBe(202);
    const done = await waitFor('the async action to fail', async () => {
      const { body } = await ferry.api.get(queued.body.status_url);
      return body.status === 'failed' ? body : undefined;
    });
    expect((await runById(done.run_id)).error.location).toEqual({ file: 'scripts/crm/actions/hostile.ts', line: 9, column: 33 });
  });
});

test('a webhook run records the throw in the sync file', async () => {
  expect((await ferry.api.put('/providers/crm/webhook', {
    signature_header: 'X-Crm-Signature', algorithm: 'sha256', encoding: 'hex', signature_prefix: 'sha256=',
    secret: SECRET, connection_id_path: 'account', event_path: 'type',
  })).status).toBe(200);
  const body = JSON.stringify({ type: 'contact.updated', account: 'crm-1' });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const ack = await fetch(`${ferry.url}/webhooks/dev/crm`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-crm-signature': signature }, body });
  expect(ack.status).toBe(202);
  const run = await waitFor('the webhook run to fail', async () => {
    const { body: list } = await ferry.api.get('/runs?connection_id=crm-1&limit=50');
    return list.runs.find((r: any) => r.kind === 'webhook' && r.status === 'failed');
  });
  expect(run.error).toMatchObject({ message: 'webhook not handled', location: { file: 'scripts/crm/syncs/failing.ts', line: 15, column: 51 } });
}, 60_000);

test('a top level that throws is refused at deploy with where it threw', async () => {
  await writeScripts({ 'scripts/crm/syncs/top.ts': TOP_LEVEL });
  try {
    await expect(deploy()).rejects.toThrow(/scripts\/crm\/syncs\/top\.ts:4:\d+: SCRIPT_LOAD_ERROR: /);
  } finally {
    await rm(join(project, 'scripts/crm/syncs/top.ts'));
  }
});

test('a deploy whose source map is not one is a 400 naming the field', async () => {
  const { status, body } = await ferry.api.post('/deploy', {
    scripts: [{ name: 'x', provider: 'crm', kind: 'sync', code: 'var __ferry_module = {};', source_map: '{"version":2,"sources":[],"mappings":""}' }],
  });
  expect(status).toBe(400);
  expect(body.error.issues.map((i: any) => i.path.join('.'))).toContain('body.scripts.0.source_map');
});

test('an Error the script catches and logs is stored with its stack in the .ts file', async () => {
  const { status, body } = await ferry.api.post('/actions/hostile', { connection_id: 'crm-1', input: { mode: 'logged' } });
  expect(status).toBe(200);
  const { body: logs } = await ferry.api.get(`/runs/${body.run_id}/logs`);
  const logged = logs.logs.find((l: any) => l.message.includes('caught and logged'));
  expect(logged.message).toMatch(/^Error: caught and logged\n\s+at .*\(scripts\/crm\/actions\/hostile\.ts:25:40\)/);
  expect(logged.message).not.toContain('file:///script.js');
});

describe('whatever a hostile script throws', () => {
  const fail = async (mode: string) => {
    const { status, body } = await ferry.api.post('/actions/hostile', { connection_id: 'crm-1', input: { mode } });
    expect(status).toBe(500);
    return (await runById(body.error.run_id)).error;
  };

  test('a string or an object whose getters throw is recorded without a location', async () => {
    expect(await fail('string')).toMatchObject({ code: 'SCRIPT_ERROR', message: 'just a string' });
    expect((await fail('string')).location).toBeUndefined();
    const getters = await fail('getters');
    expect(getters.code).toBe('SCRIPT_ERROR');
    expect(getters.location).toBeUndefined();
  });

  test('forged frames map to nothing and a huge stack stays bounded', async () => {
    const forged = await fail('forged');
    expect(forged.location).toBeUndefined();
    expect(forged.stack.length).toBeLessThanOrEqual(16 * 1024);
    expect(forged.stack).toContain('file:///script.js:999999:5');
  });

  test('frames written into the message are not taken for the throw', async () => {
    expect((await fail('frames-in-message')).location).toEqual({ file: 'scripts/crm/actions/hostile.ts', line: 19, column: 45 });
  });

  test('an unlimited stack trace is cut and still names the throw', async () => {
    const deep = await fail('deep');
    expect(deep.location).toEqual({ file: 'scripts/crm/actions/hostile.ts', line: 22, column: 63 });
    expect(deep.stack.length).toBeLessThanOrEqual(16 * 1024);
    // The host still serves, and the action still works.
    expect((await ferry.api.post('/actions/hostile', { connection_id: 'crm-1', input: { mode: 'none' } })).body).toMatchObject({ output: { ok: true } });
  });
});
