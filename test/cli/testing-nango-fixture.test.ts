/**
 * `ferry/testing` replays Nango's recorded fixtures (`<provider>/tests/<name>.test.json`, what
 * `nango dryrun --save` writes) as they are, without Nango's mocks: `tester.run({ script, fixture })`
 * with the file's path or `readNangoFixture`'s result answers each request as Nango's test mock
 * matches it (method, endpoint, the exact query parameters, the body), and the run starts from the
 * recorded getConnection, getMetadata and action input. Scripts and fixtures written for this test
 * in Nango's layout and format.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createScriptTester, readFixture, readNangoFixture } from '../../testing/index.ts';

let dir: string;
const tester = createScriptTester();

const TICKETS_SYNC = `import { createSync } from 'nango';
import { z } from 'zod';

const Ticket = z.object({ id: z.string(), subject: z.string(), team: z.string(), region: z.string() });

export default createSync({
  description: 'Tickets of the connection team, page by page',
  frequency: 'every hour',
  models: { Ticket },
  exec: async (nango) => {
    const connection = await nango.getConnection();
    const region = String(connection.connection_config['region']);
    const { team } = await nango.getMetadata<{ team: string }>();
    const pages = nango.paginate<{ id: number; subject: string }>({
      endpoint: '/api/v2/tickets',
      params: { team },
      paginate: { type: 'cursor', cursor_path_in_response: 'meta.next', cursor_name_in_request: 'cursor', response_path: 'tickets' },
    });
    for await (const page of pages) {
      await nango.batchSave(page.map((t) => ({ id: String(t.id), subject: t.subject, team, region })), 'Ticket');
    }
  },
});
`;

const CLOSE_ACTION = `import { createAction } from 'nango';
import { z } from 'zod';

export default createAction({
  description: 'Close a ticket',
  input: z.object({ id: z.string(), reason: z.string() }),
  output: z.object({ id: z.string(), status: z.string() }),
  exec: async (nango, input) => {
    try {
      const res = await nango.post<{ ticket: { id: number; status: string } }>({ endpoint: \`/api/v2/tickets/\${input.id}/close\`, data: { reason: input.reason } });
      return { id: String(res.data.ticket.id), status: res.data.ticket.status };
    } catch (error) {
      const status = (error as { response?: { status?: number } }).response?.status;
      if (status === 404) throw new nango.ActionError({ type: 'not_found', message: \`no ticket \${input.id}\` });
      throw error;
    }
  },
});
`;

const page = (params: Record<string, string>, ids: number[], next: string | null) => ({
  request: { params },
  response: { tickets: ids.map((id) => ({ id, subject: `ticket ${id}` })), meta: { next } },
});
const saved = (ids: number[]) => ids.map((id) => ({ id: String(id), subject: `ticket ${id}`, team: 'support', region: 'eu' }));

const TICKETS_FIXTURE = {
  nango: {
    getConnection: { connection_id: 'acme-1', provider_config_key: 'helpdesk', connection_config: { region: 'eu' } },
    getMetadata: { team: 'support' },
    batchSave: { Ticket: saved([1, 2, 3]) },
  },
  api: { get: { 'api/v2/tickets': [page({ team: 'support' }, [1, 2], 'c2'), page({ team: 'support', cursor: 'c2' }, [3], null)] } },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-nango-fixture-'));
  const write = async (path: string, text: string) => {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  };
  await write('helpdesk/syncs/tickets.ts', TICKETS_SYNC);
  await write('helpdesk/actions/close-ticket.ts', CLOSE_ACTION);
  await write('helpdesk/tests/tickets.test.json', JSON.stringify(TICKETS_FIXTURE, null, 2));
  // The recording stopped after the first page: the second is a request it lacks.
  await write('helpdesk/tests/tickets-partial.test.json', JSON.stringify({ ...TICKETS_FIXTURE, api: { get: { 'api/v2/tickets': [TICKETS_FIXTURE.api.get['api/v2/tickets'][0]] } } }));
  await write('helpdesk/tests/close-ticket.test.json', JSON.stringify({
    input: { id: '7', reason: 'solved' },
    output: { id: '7', status: 'closed' },
    nango: {},
    api: { post: { 'api/v2/tickets/7/close': { request: { data: { reason: 'solved' } }, response: { ticket: { id: 7, status: 'closed' } } } } },
  }));
  await write('helpdesk/tests/close-missing-ticket.test.json', JSON.stringify({
    input: { id: '8', reason: 'solved' },
    nango: {},
    api: { post: { 'api/v2/tickets/8/close': { request: { data: { reason: 'solved' } }, status: 404, response: { error: 'Not Found' } } } },
  }));
  await write('helpdesk/tests/neither.json', JSON.stringify({ records: [] }));
});
afterAll(async () => {
  await tester.close();
  await rm(dir, { recursive: true, force: true });
});

test("a sync replays a Nango fixture by path: every page answered by Nango's matching, from the recorded connection and metadata", async () => {
  const run = await tester.run({ script: join(dir, 'helpdesk/syncs/tickets.ts'), fixture: join(dir, 'helpdesk/tests/tickets.test.json') });
  expect(run.error).toBeUndefined();
  expect(run.records('Ticket')).toEqual(TICKETS_FIXTURE.nango.batchSave.Ticket);
  expect(run.requests.map((r) => r.params)).toEqual([{ team: 'support' }, { team: 'support', cursor: 'c2' }]);
});

test('readNangoFixture gives the parsed fixture, whose batchSave is what the run must hold', async () => {
  const fixture = await readNangoFixture(join(dir, 'helpdesk/tests/tickets.test.json'));
  const run = await tester.run({ script: join(dir, 'helpdesk/syncs/tickets.ts'), fixture });
  expect(run.records('Ticket')).toEqual(fixture.nango.batchSave?.['Ticket']);
  // The test's own options still win over what was recorded.
  const other = await tester.run({ script: join(dir, 'helpdesk/syncs/tickets.ts'), fixture, metadata: { team: 'billing' } });
  expect(other.ok).toBe(false);
  expect(other.error?.message).toMatch(/No mock found for GET \/api\/v2\/tickets\?team=billing in the Nango fixture of tickets/);
});

test('a request the recording lacks fails the call, naming it and how to record it', async () => {
  const run = await tester.run({ script: join(dir, 'helpdesk/syncs/tickets.ts'), fixture: join(dir, 'helpdesk/tests/tickets-partial.test.json') });
  expect(run.ok).toBe(false);
  expect(run.error?.message).toMatch(/No mock found for GET \/api\/v2\/tickets\?team=support&cursor=c2 in the Nango fixture of tickets: record it again with `nango dryrun tickets/);
  // What came before the missing page was saved.
  expect(run.records('Ticket').map((t) => t.id)).toEqual(['1', '2']);
});

test("an action runs with the recorded input and body; its output is the fixture's", async () => {
  const fixture = await readNangoFixture(join(dir, 'helpdesk/tests/close-ticket.test.json'));
  const run = await tester.run({ script: join(dir, 'helpdesk/actions/close-ticket.ts'), fixture });
  expect(run.error).toBeUndefined();
  expect(run.output).toEqual(fixture.output);
  expect(run.requests).toMatchObject([{ method: 'POST', endpoint: '/api/v2/tickets/7/close', body: JSON.stringify({ reason: 'solved' }) }]);
  // Another body than the recorded one is another request.
  const other = await tester.run({ script: join(dir, 'helpdesk/actions/close-ticket.ts'), fixture, input: { id: '7', reason: 'duplicate' } });
  expect(other.error?.message).toMatch(/No mock found for POST \/api\/v2\/tickets\/7\/close/);
});

test("a recorded 404 fails the script's call as the provider's answer would, with its status", async () => {
  const run = await tester.run({ script: join(dir, 'helpdesk/actions/close-ticket.ts'), fixture: join(dir, 'helpdesk/tests/close-missing-ticket.test.json') });
  expect(run.ok).toBe(false);
  expect(run.error).toMatchObject({ code: 'ACTION_ERROR', type: 'not_found', message: 'no ticket 8' });
});

test("a file in neither format is refused naming both; Ferry's own fixtures still load", async () => {
  await expect(tester.run({ script: join(dir, 'helpdesk/syncs/tickets.ts'), fixture: join(dir, 'helpdesk/tests/neither.json') }))
    .rejects.toThrow(/is not a fixture: a Ferry fixture \(ferry dryrun --save\) has "version" and "exchanges", a Nango one \(nango dryrun --save\) "api" and "nango"/);
  await writeFile(join(dir, 'helpdesk/tests/ferry.json'), JSON.stringify({
    version: 1, script: 'tickets', provider: 'helpdesk', kind: 'sync', recorded_at: '2026-01-01T00:00:00.000Z',
    context: { metadata: { team: 'support' } },
    exchanges: [{ request: { method: 'GET', endpoint: '/api/v2/tickets', params: { team: 'support' } }, response: { status: 200, headers: { 'content-type': 'application/json' }, json: { tickets: [{ id: 9, subject: 'ticket 9' }], meta: { next: null } } } }],
  }));
  const fixture = await readFixture(join(dir, 'helpdesk/tests/ferry.json'));
  const run = await tester.run({ script: join(dir, 'helpdesk/syncs/tickets.ts'), fixture, connection: { connection_config: { region: 'us' } } });
  expect(run.error).toBeUndefined();
  expect(run.records('Ticket')).toEqual([{ id: '9', subject: 'ticket 9', team: 'support', region: 'us' }]);
});
