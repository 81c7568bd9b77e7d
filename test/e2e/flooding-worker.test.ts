/**
 * A worker child that floods the host: the parent enforces the caps the child is meant to keep
 * (test/fixtures/flooding-worker/preload.ts). 20,000 log lines in one message keep the run's logs
 * at the cap (bounded parent memory) and the run succeeds; 500 host calls at once end that child
 * (WORKER_CRASHED, the run fails as data) and a new child carries on.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CAPS } from '../../runtime/caps.ts';
import { startCueFerry, type CueFerry } from '../helpers/cue-worker.ts';
import { workerChildren } from '../helpers/ferry.ts';

let cued: CueFerry;
beforeAll(async () => { cued = await startCueFerry('flooding-worker/preload.ts'); }, 60_000);
afterAll(async () => { await cued?.close(); });

test('a log flood past the cap is cut at the cap; the run succeeds', async () => {
  const { status, body } = await cued.run('flood the host with logs');
  expect(status).toBe(200);
  expect(body.output).toEqual({ finished: true });
  const [row] = await cued.ferry.db.sql<{ n: number; floods: number }[]>`
    select count(*)::int as n, count(*) filter (where message like 'flood %')::int as floods from run_logs where run_id = ${body.run_id}`;
  expect(row!.floods).toBeGreaterThan(0); // the flood did reach the host
  expect(row!.n).toBeLessThanOrEqual(CAPS.logsPerRun + 100);
});

test('500 host calls at once end that child: the run fails as WORKER_CRASHED, a new child carries on', async () => {
  const rogues = workerChildren();
  const { status, body } = await cued.run('flood the host with calls');
  expect(status).toBe(500);
  expect(body.error.run_error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining('host calls in flight') });
  expect((await cued.ferry.api.get('/healthz')).status).toBe(200);
  const next = await cued.run();
  expect(next.status).toBe(200);
  expect(workerChildren().filter((pid) => rogues.includes(pid))).toHaveLength(rogues.length - 1);
});
