/**
 * A number the API cannot keep as sent is refused, never silently changed: JSON.parse reads
 * numbers as 64-bit floats, so 2^63 was stored as 9223372036854776000, 2^53 + 1 as 2^53, and
 * 1e400 as null. Each is a 400 naming where it is, on every route that takes JSON (metadata,
 * action input), and nothing is written — except a signed webhook payload, which is the
 * provider's and is read as JSON.parse reads it; a number the float writes back
 * as the same decimal (1.0, 1E2, -0, the largest double, the smallest denormal) is kept. A whole
 * host over HTTP on real Postgres, with real worker processes for the action.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WEBHOOK_QUEUE } from '../../host/webhooks-in/index.ts';
import { deploySources, idForThisAttempt, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const SECRET = 'exact-numbers-secret';

const ECHO = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'answers its input',
  input: z.record(z.string(), z.unknown()),
  output: z.record(z.string(), z.unknown()),
  exec: async (_nango, input) => input,
});`;

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, { 'plain/actions/echo.ts': ECHO });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.put('/providers/plain/webhook', { signature_header: 'x-signature', secret: SECRET, connection_id_path: 'account' })).status).toBe(200);
}, 60_000);
afterAll(async () => { await ferry?.close(); });

async function newConnection(): Promise<string> {
  const id = idForThisAttempt('exact');
  expect((await ferry.api.post('/connections', { connection_id: id, provider: 'plain' })).status).toBe(201);
  return id;
}

/** Numbers a float cannot hold as sent, as JSON text, and what each would have become. */
const INEXACT: Array<[string, string]> = [
  ['9223372036854775808', '9223372036854776000'],
  ['9007199254740993', '9007199254740992'],
  ['-18446744073709551615', '-18446744073709552000'],
  ['1e400', 'null'],
  ['-1e400', 'null'],
  ['1e-400', '0'],
  ['0.1000000000000000055511151231257827', '0.1'],
  ['123456789012345678901234567890', '1.2345678901234568e+29'],
];

test('metadata holding a number a float cannot keep is a 400 naming it, and the metadata stays as it was', async () => {
  const id = await newConnection();
  expect((await ferry.api.put(`/connections/${id}/metadata`, { before: true })).status).toBe(200);
  for (const [sent, kept] of INEXACT) {
    for (const method of ['PUT', 'PATCH']) {
      const answer = await ferry.api.request(method, `/connections/${id}/metadata`, `{"ok":1,"account":{"ids":[7,${sent}]}}`);
      expect(answer.status, `${method} ${sent}`).toBe(400);
      expect(answer.body.error.code).toBe('INVALID_REQUEST');
      expect(answer.body.error.issues[0].path).toEqual(['body', 'account', 'ids', '1']);
      expect(answer.body.error.message).toContain(sent);
      expect(answer.body.error.message).toContain(kept);
      expect(answer.body.error.message).toContain('send it as a string');
    }
  }
  // At the root and in a connection's creation too.
  expect((await ferry.api.request('PUT', `/connections/${id}/metadata`, '1e400')).body.error.issues[0].path).toEqual(['body']);
  const created = await ferry.api.request('POST', '/connections', `{"connection_id":"${idForThisAttempt('exact-new')}","provider":"plain","metadata":{"id":9223372036854775808}}`);
  expect(created.status).toBe(400);
  expect(created.body.error.issues[0].path).toEqual(['body', 'metadata', 'id']);
  expect((await ferry.api.get(`/connections/${id}/metadata`)).body).toEqual({ before: true });
});

test('numbers a float writes back as the same decimal are kept, and a big id sent as a string is kept as sent', async () => {
  const id = await newConnection();
  const text = '{"one":1.0,"hundred":1E2,"zero":-0,"safe":9007199254740991,"max":1.7976931348623157e308,"denormal":5e-324,"tenth":0.1,"exp":1.5e+300,"digits":"9223372036854775808"}';
  expect((await ferry.api.request('PUT', `/connections/${id}/metadata`, text)).status).toBe(200);
  const stored = (await ferry.api.get(`/connections/${id}/metadata`)).body;
  expect(stored).toEqual({ one: 1, hundred: 100, zero: 0, safe: 9007199254740991, max: 1.7976931348623157e308, denormal: 5e-324, tenth: 0.1, exp: 1.5e300, digits: '9223372036854775808' });
  // A long run of digits inside a string does not make its number neighbours suspect.
  expect((await ferry.api.request('PATCH', `/connections/${id}/metadata`, '{"note":"12345678901234567890","n":3}')).status).toBe(200);
});

test('an action input holding one is refused before any run starts', async () => {
  const id = await newConnection();
  const runs = async () => (await ferry.api.get(`/runs?connection_id=${id}`)).body.runs.length as number;
  const refused = await ferry.api.request('POST', '/actions/echo', `{"connection_id":"${id}","input":{"order":{"id":9223372036854775807}}}`);
  expect(refused.status).toBe(400);
  expect(refused.body.error.issues[0].path).toEqual(['body', 'input', 'order', 'id']);
  expect(await runs()).toBe(0);
  const echoed = await ferry.api.request('POST', '/actions/echo', `{"connection_id":"${id}","input":{"order":{"id":"9223372036854775807","n":1e2}}}`);
  expect(echoed.status).toBe(200);
  expect(echoed.body.output).toEqual({ order: { id: '9223372036854775807', n: 100 } });
});

test('a signed webhook payload holding one is accepted as any JSON reader reads it: a provider cannot be asked to change its ids', async () => {
  const queued = async () => (await ferry.db.sql<{ data: any }[]>`select data from pgboss.job where name = ${WEBHOOK_QUEUE}`).map((j) => j.data);
  const before = (await queued()).length;
  const body = '{"account":"nobody","tweet":{"id":1577765366634369024,"id_str":"1577765366634369024"}}';
  const response = await fetch(`${ferry.url}/webhooks/dev/plain`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') }, body,
  });
  const answer = await response.json() as any;
  expect(response.status).toBe(202);
  expect(answer.accepted).toBe(true);
  const jobs = await queued();
  expect(jobs.length).toBe(before + 1);
  const delivery = jobs.find((d) => d.payload?.tweet?.id_str === '1577765366634369024');
  // The string the provider sends beside it is what a script keeps; the number is the nearest float.
  expect(delivery?.payload.tweet.id).toBe(1577765366634369000);
});
