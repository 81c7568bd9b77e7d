/**
 * A worker child that floods the host: the parent enforces the caps the child is meant to keep
 * (test/fixtures/flooding-worker/preload.ts). 20,000 log lines in one message keep the run's logs
 * at the cap (bounded parent memory) and the run succeeds; 500 host calls at once end that child
 * (WORKER_CRASHED, the run fails as data) and a new child carries on.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CAPS } from '../../runtime/caps.ts';
import { deploySources, startTestFerryWithWorkerPreload, workerChildren, type TestFerry } from '../helpers/ferry.ts';

const PRELOAD = fileURLToPath(new URL('../fixtures/flooding-worker/preload.ts', import.meta.url));

const FLOODER = `
import { createAction } from 'ferry/sdk';
const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };
export default createAction({
  description: 'cues its worker to flood the host',
  input: anything,
  output: anything,
  exec: async (nango, input: any) => {
    if (input.flood) nango.log(input.flood);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { finished: true };
  },
});`;

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerryWithWorkerPreload(PRELOAD);
  await deploySources(ferry, { 'plain/actions/flooder.ts': FLOODER });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
}, 60_000);
afterAll(async () => { await ferry?.close(); });

test('a log flood past the cap is cut at the cap; the run succeeds', async () => {
  const { status, body } = await ferry.api.post('/actions/flooder', { connection_id: 'c1', input: { flood: 'flood the host with logs' } });
  expect(status).toBe(200);
  expect(body.output).toEqual({ finished: true });
  const [row] = await ferry.db.sql<{ n: number; floods: number }[]>`
    select count(*)::int as n, count(*) filter (where message like 'flood %')::int as floods from run_logs where run_id = ${body.run_id}`;
  expect(row!.floods).toBeGreaterThan(0); // the flood did reach the host
  expect(row!.n).toBeLessThanOrEqual(CAPS.logsPerRun + 100);
});

test('500 host calls at once end that child: the run fails as WORKER_CRASHED, a new child carries on', async () => {
  const rogues = workerChildren();
  const { status, body } = await ferry.api.post('/actions/flooder', { connection_id: 'c1', input: { flood: 'flood the host with calls' } });
  expect(status).toBe(500);
  expect(body.error.run_error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining('host calls in flight') });
  expect((await ferry.api.get('/healthz')).status).toBe(200);
  const next = await ferry.api.post('/actions/flooder', { connection_id: 'c1', input: {} });
  expect(next.status).toBe(200);
  expect(workerChildren().filter((pid) => rogues.includes(pid))).toHaveLength(rogues.length - 1);
});
