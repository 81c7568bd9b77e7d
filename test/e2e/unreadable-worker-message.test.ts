/**
 * A message the host cannot read fails that child's run and replaces the child, never the host:
 * the worker children of this host are started with a preload that makes them send, on cue, a
 * frame nested 200,000 deep (test/fixtures/rogue-worker/preload.ts) — the kind of message that
 * used to throw inside Node's IPC reader and end the host process.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, startTestFerryWithWorkerPreload, workerChildren, type TestFerry } from '../helpers/ferry.ts';

const PRELOAD = fileURLToPath(new URL('../fixtures/rogue-worker/preload.ts', import.meta.url));

const ROGUE = `
import { createAction } from 'ferry/sdk';
const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };
export default createAction({
  description: 'cues its worker to send the host an unreadable message',
  input: anything,
  output: anything,
  exec: async (nango, input: any) => {
    if (input.rogue) nango.log('send the host an unreadable message');
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { finished: true };
  },
});`;

let ferry: TestFerry;

beforeAll(async () => {
  // Only the children the host starts now get the preload; those replacing them do not.
  ferry = await startTestFerryWithWorkerPreload(PRELOAD);
  await deploySources(ferry, { 'plain/actions/rogue.ts': ROGUE });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
});

test("an unreadable message fails that child's run with WORKER_CRASHED; the host carries on with a new child", async () => {
  // Every child of this host was started with the preload (the runtime workers and the reserved slot).
  const rogues = workerChildren();
  expect(rogues.length).toBeGreaterThanOrEqual(2);
  const { status, body } = await ferry.api.post('/actions/rogue', { connection_id: 'c1', input: { rogue: true } });
  expect(status).toBe(500);
  expect(body.error.run_error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining('could not read') });
  expect((await ferry.api.get(`/runs/${body.error.run_id}`)).body).toMatchObject({ status: 'failed', error: { code: 'WORKER_CRASHED' } });

  expect((await ferry.api.get('/healthz')).status).toBe(200);
  for (let i = 0; i < 3; i++) {
    const next = await ferry.api.post('/actions/rogue', { connection_id: 'c1', input: {} });
    expect(next.status).toBe(200);
    expect(next.body.output).toEqual({ finished: true });
  }
  // Exactly the rogue child that sent the frame was replaced.
  expect(workerChildren().filter((pid) => rogues.includes(pid))).toHaveLength(rogues.length - 1);
});
