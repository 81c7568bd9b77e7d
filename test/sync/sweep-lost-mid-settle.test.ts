/**
 * The stale-run sweep losing its database part-way: a real worker host (`node host/main.ts`) is
 * killed with SIGKILL while it runs an async action (waiting on its provider call, alive past
 * the stale-run limit) and a sync (waiting on its first page). A surviving worker's sweep fails both runs; the test holds the
 * call's row locked and terminates the sweep's backend (pg_terminate_backend) while it waits to
 * settle the call. The sweep is one transaction, so that loss changes nothing and the next tick
 * does it all: the call reads failed as WORKER_LOST with exactly one action.finished for the app,
 * and the sync is retried and completes. The runs used to be failed in a commit of their own: cut
 * after it, the call stayed `running` with no event for good, and the sync's retry was never
 * scheduled (its pair waited its hour), since the next sweep finds only runs still running.
 */
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STATEMENT_NAMES, statementMark } from '../../host/db/statement-names.ts';
import { deploySources, idForThisAttempt, readAll, waitFor, waitForRun, type ApiClient } from '../helpers/ferry.ts';
import { whileHolding, type Control } from '../helpers/lost-database.ts';
import { startMultiHost, type MultiHost } from '../helpers/multi-host.ts';
import { startWebhookReceiver } from '../connect/webhook-receiver.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

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

const PAGES = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'every item, a page of 5 at a time',
  frequency: 'every 1 hour',
  syncType: 'full',
  models: { Item },
  exec: async (nango) => {
    let after = '';
    for (;;) {
      const res = await nango.get<{ items: Array<z.infer<typeof Item>>; next: string | null }>({ endpoint: '/items', params: { limit: '5', after }, retries: 0 });
      await nango.batchSave(res.data.items, 'Item');
      if (!res.data.next) return;
      after = res.data.next;
    }
  },
});`;

let cluster: MultiHost;
let api: ApiClient;
let provider: ItemsProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let control: Control;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  cluster = await startMultiHost(); // the API host: it runs no syncs, no async actions, no sweep
  api = cluster.api;
  control = postgres(cluster.db.url, { max: 2, onnotice: () => {}, connection: { application_name: 'sweep-control' } });
  await deploySources(cluster, { 'sweepp/actions/write-back.ts': WRITE_BACK, 'sweepp/syncs/pages.ts': PAGES });
  expect((await api.put('/providers/sweepp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  hooks = await startWebhookReceiver();
  expect((await api.put('/environment/settings', { webhook_url: hooks.url })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await cluster?.close();
  await provider?.close();
  await hooks?.close();
});

test('a sweep whose database is lost while it settles a killed worker\'s runs leaves nothing half-settled: the call fails once, with one event, and the sync is retried', async () => {
  const connectionId = idForThisAttempt('sweep');
  const after = idForThisAttempt('held'); // the page only this attempt's call asks for
  const holdCall = provider.holdPage(after);
  const holdSync = provider.holdPage(''); // the sync's first page
  const worker = cluster.spawnWorker({ FERRY_RUNTIME_WORKERS: '2' });
  expect((await api.post('/connections', { connection_id: connectionId, provider: 'sweepp' })).status).toBe(201);
  const queued = await api.post('/actions/write-back', { connection_id: connectionId, input: { after }, async: true });
  expect(queued.status).toBe(202);
  const callId = String(queued.body.id);
  await waitFor('the call and the sync to wait on their provider calls', async () => (holdCall.arrived() && holdSync.arrived() ? true : undefined), 60_000);
  // Alive past twice the stale-run limit (2 s here), the call's run is not failed by its own
  // host's sweep: action runs heartbeated every 10 s whatever the limit, and were.
  const callRun = await waitFor('the call running for over 4 s', async () => {
    const [row] = await control<{ status: string; long: boolean }[]>`
      select status, now() - started_at > interval '4 seconds' as long from runs where job_id = ${`action:${callId}`}`;
    return row && (row.long || row.status !== 'running') ? row : undefined;
  }, 60_000);
  expect(callRun.status).toBe('running');
  const [syncRun] = await control<{ id: string }[]>`
    select r.id::text as id from runs r join connections c on c.id = r.connection_id
    where c.connection_id = ${connectionId} and r.kind = 'sync' and r.status = 'running'`;
  expect(syncRun).toBeDefined();
  await worker.kill();
  expect(worker.child.signalCode).toBe('SIGKILL');
  holdCall.release();
  holdSync.release(); // the retry's pages are answered at once

  // The call's row held: the sweep, having failed both runs, waits there to settle the call, and
  // its backend is terminated until it has waited (and lost its connection) at least once.
  const survivor = await whileHolding(control, (hold) => hold`select 1 from action_jobs where id = ${callId} for update`, async () => {
    const host = await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
    const mark = statementMark(STATEMENT_NAMES.lostActionsSettle);
    await waitFor('the sweep waiting to settle the call, terminated', async () => {
      const [row] = await control<{ n: number }[]>`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'ferry' and wait_event_type = 'Lock' and strpos(query, ${mark}) > 0`;
      return row!.n > 0 ? true : undefined;
    }, 60_000);
    // Before the fix the runs were failed already, in a commit of their own; now nothing is.
    const [call] = await control<{ status: string }[]>`select r.status from runs r join action_jobs j on j.run_id = r.id where j.id = ${callId}`;
    expect(call?.status).toBe('running');
    return host;
  });
  try {
    const row = await waitFor('the call settled', async () => {
      const [job] = await control<{ status: string; error: { code: string } | null }[]>`select status, error from action_jobs where id = ${callId}`;
      return job?.status === 'running' ? undefined : job;
    }, 30_000);
    expect(row).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    const event = await waitFor('action.finished for the lost call', async () => hooks.events('action.finished').find((e) => e.id === callId), 60_000);
    expect(event).toMatchObject({ connection_id: connectionId, action_name: 'write-back', success: false, error: { code: 'WORKER_LOST' } });
    // One event: the sweep that lost its connection wrote none.
    expect(await control`select 1 from webhook_deliveries where event_type = 'action.finished' and payload->>'id' = ${callId}`).toHaveLength(1);

    const [lost] = await control<{ status: string; error: { code: string } }[]>`select status, error from runs where id = ${syncRun!.id}`;
    expect(lost).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    // The retry policy's next attempt (300 ms here), not the pair's next hour.
    const retry = await waitForRun(api, connectionId, 'pages', syncRun!.id, 60_000);
    expect(retry).toMatchObject({ status: 'succeeded' });
    expect((await readAll(api, connectionId, 'Item')).records).toHaveLength(12);
    expect(await control`select 1 from runs where status = 'running'`).toHaveLength(0);
  } finally {
    await cluster.stop(survivor);
  }
}, 240_000);
