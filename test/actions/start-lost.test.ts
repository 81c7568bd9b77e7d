/**
 * An asynchronous action (POST /actions/:name, async) must not vanish when the database is lost
 * as its run starts. The test locks the runs table (SHARE: writes wait, reads go on), so the
 * worker's start of the action's run waits there, and terminates that waiting backend
 * (pg_terminate_backend, on this file's own database only) every time it shows up, until the
 * start path's retries are used up and the queue job is settled. It used to be failed for good:
 * the call had been claimed ('running') before its run row was written, so it read as running
 * forever and never ran. Now nothing of the start is written, the job is queued again, and once
 * the lock is released the action runs exactly once and its output is retrievable.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ACTION_QUEUE } from '../../host/actions/action-queue.ts';
import { STATEMENT_NAMES } from '../../host/db/statement-names.ts';
import { startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection } from '../helpers/items-connection.ts';
import {
  controlConnection, newestRunId, pastTheRequeueDelay, pendingJobs, settledJobState, terminateLockWaitersUntil, whileHolding, type Control,
} from '../helpers/lost-database.ts';
import { MODE_ACTION } from './mode-action.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

let ferry: TestFerry;
let provider: ItemsProvider;
let control: Control;

beforeAll(async () => {
  provider = await startItemsProvider(0);
  ferry = await startTestFerry({});
  control = controlConnection(ferry, 'lostaction-test');
  await deployProviderConnection(ferry, { provider: 'actp', baseUrl: provider.url, scripts: { 'actions/mode.ts': MODE_ACTION }, connectionId: 'act-1' });
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
});

test('an async action whose run start loses the database every time is queued again, runs once, and its output is retrievable', async () => {
  // What this attempt adds, counted from here: a CI retry finds the first attempt's run and call.
  const before = await newestRunId(control);
  const modeCallsBefore = provider.requests.filter((r) => r.path === '/mode').length;
  provider.mode = 'after-loss';
  // SHARE: writes wait; reads and foreign-key checks go on.
  const { statusUrl, kills } = await whileHolding(control, (hold) => hold`lock table runs in share mode`, async () => {
    const queued = await ferry.api.post('/actions/mode', { connection_id: 'act-1', input: { n: 7 }, async: true });
    expect(queued.status).toBe(202);
    const statusUrl: string = queued.body.status_url;
    const jobId = await waitFor('the action job queued', async () =>
      (await control<{ id: string }[]>`select id::text as id from pgboss.job where name = ${ACTION_QUEUE} and data->>'actionJobId' = ${String(queued.body.id)}`)[0]?.id, 30_000);
    const { kills } = await terminateLockWaitersUntil(control, [STATEMENT_NAMES.runStart, STATEMENT_NAMES.actionClaim],
      'the claimed job settled after its start lost the database', () => settledJobState(control, jobId), 30_000);
    // Meanwhile the call reads as queued: nothing of its start was kept.
    expect((await ferry.api.get(statusUrl)).body).toMatchObject({ status: 'queued', run_id: null });
    return { statusUrl, kills };
  });
  expect(kills).toBeGreaterThanOrEqual(4);

  const done = await waitFor('the action to settle', async () => {
    const { body } = await ferry.api.get(statusUrl);
    return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
  }, 30_000);
  expect(done).toMatchObject({ status: 'succeeded', output: { mode: 'after-loss', n: 7 }, error: null });
  expect((await ferry.api.get(`/runs/${done.run_id}`)).body).toMatchObject({ kind: 'action', trigger: 'async', status: 'succeeded' });

  // Exactly once: one run, one provider call, after the requeue delay; no job left to run.
  await pastTheRequeueDelay();
  expect(await control`select 1 from runs where kind = 'action' and id > ${before}`).toHaveLength(1);
  expect(provider.requests.filter((r) => r.path === '/mode').length - modeCallsBefore).toBe(1);
  expect(await pendingJobs(control, ACTION_QUEUE)).toHaveLength(0);
  expect(await control`select 1 from runs where status = 'running'`).toHaveLength(0);
}, 90_000);
