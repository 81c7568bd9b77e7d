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
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ACTION_QUEUE } from '../../host/actions/action-queue.ts';
import { deploySources, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

const MODE = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'reads the provider mode once and returns it',
  input: z.object({ n: z.number() }),
  output: z.object({ mode: z.string(), n: z.number() }),
  exec: async (nango, input) => {
    const res = await nango.get<{ mode: string }>({ endpoint: '/mode', retries: 0 });
    return { mode: res.data.mode, n: input.n };
  },
});`;

let ferry: TestFerry;
let provider: ItemsProvider;
let control: ReturnType<typeof postgres>;

beforeAll(async () => {
  provider = await startItemsProvider(0);
  ferry = await startTestFerry({});
  control = postgres(ferry.db.url, { max: 2, onnotice: () => {}, connection: { application_name: 'lostaction-test' } });
  await deploySources(ferry, { 'actp/actions/mode.ts': MODE });
  expect((await ferry.api.put('/providers/actp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'act-1', provider: 'actp' })).status).toBe(201);
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
});

test('an async action whose run start loses the database every time is queued again, runs once, and its output is retrievable', async () => {
  provider.mode = 'after-loss';
  const hold = await control.reserve();
  let statusUrl: string;
  let kills = 0;
  try {
    await hold`begin`;
    await hold`lock table runs in share mode`; // writes wait; reads and foreign-key checks go on
    const queued = await ferry.api.post('/actions/mode', { connection_id: 'act-1', input: { n: 7 }, async: true });
    expect(queued.status).toBe(202);
    statusUrl = queued.body.status_url;
    const jobId = await waitFor('the action job queued', async () =>
      (await control<{ id: string }[]>`select id::text as id from pgboss.job where name = ${ACTION_QUEUE} and data->>'actionJobId' = ${String(queued.body.id)}`)[0]?.id, 30_000);
    await waitFor('the claimed job settled after its start lost the database', async () => {
      const [row] = await control<{ n: number }[]>`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'ferry' and wait_event_type = 'Lock'
          and query ~* '^\\s*(insert into runs|update action_jobs)'`;
      kills += row!.n;
      const [job] = await control<{ state: string }[]>`select state::text as state from pgboss.job where id = ${jobId}`;
      return job && job.state !== 'active' && job.state !== 'created' ? job.state : undefined;
    }, 30_000);
    // Meanwhile the call reads as queued: nothing of its start was kept.
    expect((await ferry.api.get(statusUrl)).body).toMatchObject({ status: 'queued', run_id: null });
    await hold`rollback`;
  } finally {
    hold.release();
  }
  expect(kills).toBeGreaterThanOrEqual(4);

  const done = await waitFor('the action to settle', async () => {
    const { body } = await ferry.api.get(statusUrl);
    return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
  }, 30_000);
  expect(done).toMatchObject({ status: 'succeeded', output: { mode: 'after-loss', n: 7 }, error: null });
  expect((await ferry.api.get(`/runs/${done.run_id}`)).body).toMatchObject({ kind: 'action', trigger: 'async', status: 'succeeded' });

  // Exactly once: one run, one provider call, after the requeue delay; no job left to run.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(await control`select 1 from runs where kind = 'action'`).toHaveLength(1);
  expect(provider.requests.filter((r) => r.path === '/mode')).toHaveLength(1);
  expect(await control`select 1 from pgboss.job where name = ${ACTION_QUEUE} and state in ('created', 'retry', 'active')`).toHaveLength(0);
  expect(await control`select 1 from runs where status = 'running'`).toHaveLength(0);
}, 90_000);
