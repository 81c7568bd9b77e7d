/**
 * A message the host cannot read fails that child's run and replaces the child, never the host:
 * the worker children of this host are started with a preload that makes them send, on cue, a
 * frame nested 200,000 deep (test/fixtures/rogue-worker/preload.ts) — the kind of message that
 * used to throw inside Node's IPC reader and end the host process.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCueFerry, type CueFerry } from '../helpers/cue-worker.ts';
import { workerChildren } from '../helpers/ferry.ts';

let cued: CueFerry;
// Only the children the host starts now get the preload; those replacing them do not.
beforeAll(async () => { cued = await startCueFerry('rogue-worker/preload.ts'); }, 60_000);
afterAll(async () => { await cued?.close(); });

test("an unreadable message fails that child's run with WORKER_CRASHED; the host carries on with a new child", async () => {
  // Every child of this host was started with the preload (the runtime workers and the reserved slot).
  const rogues = workerChildren();
  expect(rogues.length).toBeGreaterThanOrEqual(2);
  const { status, body } = await cued.run('send the host an unreadable message');
  expect(status).toBe(500);
  expect(body.error.run_error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining('could not read') });
  expect((await cued.ferry.api.get(`/runs/${body.error.run_id}`)).body).toMatchObject({ status: 'failed', error: { code: 'WORKER_CRASHED' } });

  expect((await cued.ferry.api.get('/healthz')).status).toBe(200);
  for (let i = 0; i < 3; i++) {
    const next = await cued.run();
    expect(next.status).toBe(200);
    expect(next.body.output).toEqual({ finished: true });
  }
  // Exactly the rogue child that sent the frame was replaced.
  expect(workerChildren().filter((pid) => rogues.includes(pid))).toHaveLength(rogues.length - 1);
});
