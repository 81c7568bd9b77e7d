/**
 * Nothing a worker child sends ends its host: a child that sends a message the schemas refuse, a
 * frame header of 4 GiB, or half a frame before it exits fails only its own run (WORKER_CRASHED)
 * and is replaced; messages out of turn (a second `ready`, a result, heap report or host call
 * for a task that is not the child's) are ignored and the run goes on to its own result. The
 * host's children are started with a preload that sends each on cue
 * (test/fixtures/garbage-worker/preload.ts); after each, the host answers and a plain run works.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const PRELOAD = fileURLToPath(new URL('../fixtures/garbage-worker/preload.ts', import.meta.url));

const GARBAGE = `
import { createAction } from 'ferry/sdk';
const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };
export default createAction({
  description: 'cues its worker to send the host garbage',
  input: anything,
  output: anything,
  exec: async (nango, input: any) => {
    if (input.cue) nango.log(input.cue);
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { finished: true };
  },
});`;

let ferry: TestFerry;
let nodeOptionsBefore: string | undefined;

function restoreNodeOptions(): void {
  if (nodeOptionsBefore === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptionsBefore;
}

beforeAll(async () => {
  nodeOptionsBefore = process.env.NODE_OPTIONS;
  // Kept for the whole file, not only the host's start: the children replacing the ones each cue
  // ends read this process's environment when spawned, so every cue finds a garbage child.
  process.env.NODE_OPTIONS = `${nodeOptionsBefore ?? ''} --import=${PRELOAD}`.trim();
  try {
    ferry = await startTestFerry();
  } catch (err) {
    restoreNodeOptions();
    throw err;
  }
  await deploySources(ferry, { 'plain/actions/garbage.ts': GARBAGE });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  restoreNodeOptions();
});

async function stillServing(): Promise<void> {
  expect((await ferry.api.get('/healthz')).status).toBe(200);
  const plain = await ferry.api.post('/actions/garbage', { connection_id: 'c1', input: {} });
  expect(plain.status).toBe(200);
  expect(plain.body.output).toEqual({ finished: true });
}

test.each([
  ['send an invalid message', 'invalid message'],
  ['send a 4 GiB frame header', 'could not read'],
  ['send half a frame and exit', 'died mid-run'],
])('a child that cues "%s" fails its own run as WORKER_CRASHED, and the host carries on', async (cue, why) => {
  const { status, body } = await ferry.api.post('/actions/garbage', { connection_id: 'c1', input: { cue } });
  expect(status).toBe(500);
  expect(body.error.run_error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining(why) });
  expect((await ferry.api.get(`/runs/${body.error.run_id}`)).body).toMatchObject({ status: 'failed', error: { code: 'WORKER_CRASHED' } });
  await stillServing();
});

test('messages out of turn are ignored: the run gets its own result, not the forged one', async () => {
  const { status, body } = await ferry.api.post('/actions/garbage', { connection_id: 'c1', input: { cue: 'send messages out of turn' } });
  expect(status).toBe(200);
  expect(body.output).toEqual({ finished: true });
  expect((await ferry.api.get(`/runs/${body.run_id}`)).body).toMatchObject({ status: 'succeeded' });
  await stillServing();
});
