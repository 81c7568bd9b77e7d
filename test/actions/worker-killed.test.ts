/**
 * A real worker host (`node host/main.ts`, FERRY_ROLE=worker) killed with SIGKILL while an
 * asynchronous action waits on its provider call: the call is not performed twice. The run is
 * failed as WORKER_LOST by the surviving worker's stale-run sweep, and the call reads failed with
 * it (its row settled, and the app's action.finished sent); pg-boss, once the job's heartbeat lapses, delivers the job again (its retry limit), and that
 * delivery finds the call claimed and leaves it: one request to the provider, whatever the
 * retries. A write-back sent twice would be a real harm (two comments, two charges). API host
 * and survivor in this process, the killed worker in its own process group, a real provider.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ACTION_QUEUE } from '../../host/actions/action-queue.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { deploySources, idForThisAttempt, waitFor, type ApiClient } from '../helpers/ferry.ts';
import { startMultiHost, type MultiHost } from '../helpers/multi-host.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';
import { startWebhookReceiver } from '../connect/webhook-receiver.ts';

/** Reads the page after `input.after` once (no retries): the provider call a test can hold. */
const WRITE_BACK = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'one provider call, held by the test',
  input: z.object({ after: z.string() }),
  output: z.object({ n: z.number() }),
  exec: async (nango, input) => {
    const res = await nango.get<{ items: unknown[] }>({ endpoint: '/items', params: { after: input.after, limit: '1' }, retries: 0 });
    return { n: res.data.items.length };
  },
});`;

let cluster: MultiHost;
let db: TestDatabase;
let api: ApiClient;
let provider: ItemsProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  provider = await startItemsProvider(3);
  cluster = await startMultiHost(); // the API host: it runs no async actions
  ({ db, api } = cluster);
  await deploySources(cluster, { 'killp/actions/write-back.ts': WRITE_BACK });
  expect((await api.put('/providers/killp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  hooks = await startWebhookReceiver();
  expect((await api.put('/environment/settings', { webhook_url: hooks.url })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await cluster?.close();
  await provider?.close();
  await hooks?.close();
});

test('a worker killed mid-action: the call fails as WORKER_LOST, and no delivery of its job calls the provider again', async () => {
  const connectionId = idForThisAttempt('kill-act');
  const after = idForThisAttempt('held'); // the page only this attempt's call asks for
  expect((await api.post('/connections', { connection_id: connectionId, provider: 'killp' })).status).toBe(201);
  const hold = provider.holdPage(after);
  const worker = cluster.spawnWorker();
  const queued = await api.post('/actions/write-back', { connection_id: connectionId, input: { after }, async: true });
  expect(queued.status).toBe(202);
  await waitFor('the action to wait on its provider call', async () => (hold.arrived() ? true : undefined), 60_000);
  await worker.kill();
  expect(worker.child.signalCode).toBe('SIGKILL');
  hold.release(); // the provider answers, to no one

  const survivor = await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
  try {
    const done = await waitFor('the call to settle', async () => {
      const { body } = await api.get(queued.body.status_url);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    }, 60_000);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    // Settled as the call itself, not only read through its run, and the app is told: the call's
    // row stayed 'running' and no action.finished was ever sent.
    const row = await waitFor('the call row settled', async () => {
      const [job] = await db.sql<{ status: string; error: { code: string } }[]>`select status, error from action_jobs where id = ${String(queued.body.id)}`;
      return job?.status === 'running' ? undefined : job;
    }, 30_000);
    expect(row).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    const event = await waitFor('action.finished for the lost call', async () => hooks.events('action.finished').find((e) => e.id === String(queued.body.id)), 60_000);
    expect(event).toMatchObject({ connection_id: connectionId, provider: 'killp', action_name: 'write-back', success: false, error: { code: 'WORKER_LOST' } });
    // pg-boss delivers the job again once its heartbeat lapses, found by its supervise pass, which
    // runs once a minute: up to ~70 s after the kill, more on a busy machine. That delivery is the
    // one that must not call.
    const jobId = String((await db.sql<{ id: string }[]>`select id::text from pgboss.job where name = ${ACTION_QUEUE} and data->>'actionJobId' = ${String(queued.body.id)}`)[0]!.id);
    const settled = await waitFor('the job delivered again and settled', async () => {
      const [row] = await db.sql<{ state: string; retry_count: number }[]>`select state::text as state, retry_count from pgboss.job where id = ${jobId}`;
      return row && row.retry_count >= 1 && row.state === 'completed' ? row : undefined;
    }, 150_000);
    expect(settled.state).toBe('completed');
    expect(provider.requests.filter((r) => r.path === '/items' && r.query.after === after)).toHaveLength(1);
    expect(await db.sql`select status from runs where kind = 'action' and status = 'running'`).toEqual([]);
    // One run for the call, and the database holds it so: a second run row for it is refused.
    const runs = await db.sql<{ id: string; job_id: string }[]>`select id::text, job_id from runs where kind = 'action' and job_id = ${`action:${queued.body.id}`}`;
    expect(runs).toHaveLength(1);
    await expect(db.sql`insert into runs (connection_id, script_name, kind, script_version, status, trigger, is_full, job_id)
      select connection_id, script_name, kind, script_version, 'running', 'async', false, job_id from runs where id = ${runs[0]!.id}`).rejects.toMatchObject({ code: '23505' });
    expect((await api.get(queued.body.status_url)).body).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
  } finally {
    await cluster.stop(survivor);
  }
}, 300_000);
