/**
 * Nothing a worker child sends ends its host: a child that sends a message the schemas refuse, a
 * frame header of 4 GiB, half a frame before it exits, or a small frame whose value is huge (one
 * object shared 2^40 ways, a sparse array 2^32 - 1 long, one typed array referenced 1,000 times,
 * Maps and Sets shared 2^40 ways) or a value JSON has no form for (NaN, a Map in metadata) fails
 * only its own run (WORKER_CRASHED)
 * and is replaced; messages out of turn (a second `ready`, a result, heap report or host call
 * for a task that is not the child's) are ignored and the run goes on to its own result. The
 * host's children are started with a preload that sends each on cue
 * (test/fixtures/garbage-worker/preload.ts); after each, the host answers and a plain run works.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCueFerry, type CueFerry } from '../helpers/cue-worker.ts';

let cued: CueFerry;
beforeAll(async () => {
  // every child: the children replacing the ones each cue ends get the preload too, so every cue
  // finds a garbage child.
  cued = await startCueFerry('garbage-worker/preload.ts', { everyChild: true });
}, 60_000);
afterAll(async () => { await cued?.close(); });

async function stillServing(): Promise<void> {
  expect((await cued.ferry.api.get('/healthz')).status).toBe(200);
  const plain = await cued.run();
  expect(plain.status).toBe(200);
  expect(plain.body.output).toEqual({ finished: true });
}

test.each([
  ['send an invalid message', 'invalid message'],
  ['send a 4 GiB frame header', 'could not read'],
  ['send half a frame and exit', 'died mid-run'],
  // Small frames whose values are not: walking them hung the host (the depth check, the schemas).
  ['send a result sharing one object 2^40 ways', 'larger than its bytes'],
  ['send a sparse array 2^32 - 1 long', 'larger than its bytes'],
  // One view referenced 1,000 times: the depth check listed each reference's every element.
  ['send a result holding one typed array 1,000 times', 'larger than its bytes'],
  ['send a result of Maps sharing one Map 2^40 ways', 'larger than its bytes'],
  ['send a result of Sets sharing one Set 2^40 ways', 'larger than its bytes'],
  // What JSON has no form for would have been stored as null or {} (or thrown on): refused.
  ['send a result holding NaN', 'NaN is not a JSON number (at ratio)'],
  ['send metadata holding a Map', 'a Map is not JSON data (at seen)'],
])('a child that cues "%s" fails its own run as WORKER_CRASHED, and the host carries on', async (cue, why) => {
  const { status, body } = await cued.run(cue);
  expect(status).toBe(500);
  expect(body.error.run_error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining(why) });
  expect((await cued.ferry.api.get(`/runs/${body.error.run_id}`)).body).toMatchObject({ status: 'failed', error: { code: 'WORKER_CRASHED' } });
  await stillServing();
});

test('properties set beside an array\'s items are not walked (they share one array 2^40 ways): the run settles with the array', async () => {
  const { status, body } = await cued.run('send a result whose array properties share one array 2^40 ways');
  expect(status).toBe(200);
  expect(body.output).toEqual([]);
  await stillServing();
});

test('messages out of turn are ignored: the run gets its own result, not the forged one', async () => {
  const { status, body } = await cued.run('send messages out of turn');
  expect(status).toBe(200);
  expect(body.output).toEqual({ finished: true });
  expect((await cued.ferry.api.get(`/runs/${body.run_id}`)).body).toMatchObject({ status: 'succeeded' });
  await stillServing();
});
