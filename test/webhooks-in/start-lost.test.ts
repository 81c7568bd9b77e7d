/**
 * An incoming webhook routed to two subscribed syncs is processed once even when the database is
 * lost as the second sync's run starts, after the first one's has run. The test holds,
 * uncommitted, a run row of the second sync for this delivery, so the host's insert of that run
 * (one per delivery and sync: runs_webhook_once) waits on it, and terminates that waiting backend
 * (pg_terminate_backend, on this file's own database only) every time it shows up, until the
 * start path's retries are used up and the queue job is settled. Before, nothing tied a run to
 * its delivery (the held row blocks nothing: the test fails on kills = 0), and a delivery whose
 * start failed was failed and retried whole by pg-boss, running the first sync again, or dropped
 * once its one retry was used. Now the delivery is queued again and, once the row is rolled
 * back, only the second sync runs.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STATEMENT_NAMES } from '../../host/db/statement-names.ts';
import { WEBHOOK_QUEUE } from '../../host/webhooks-in/index.ts';
import { idForThisAttempt, readAll, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { createConnection, deployProvider } from '../helpers/items-connection.ts';
import {
  controlConnection, pastTheRequeueDelay, pendingJobs, settledJobState, terminateLockWaitersUntil, whileHolding, type Control,
} from '../helpers/lost-database.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

const SECRET = 'whsec_0123456789abcdef';

/** `a-slow` reads the provider (slowly) before saving; `b-fast` saves at once. Both take every event. */
const syncSource = (model: string, readsProvider: boolean) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'every webhook, as a record',
  frequency: 'every day',
  autoStart: false,
  models: { ${model}: z.object({ id: z.string(), type: z.string() }) },
  webhookSubscriptions: ['*'],
  exec: async () => {},
  onWebhook: async (nango, payload) => {
    ${readsProvider ? "await nango.get({ endpoint: '/items', params: { limit: '1' }, retries: 0 });" : ''}
    await nango.batchSave([{ id: payload.delivery, type: payload.type }], '${model}');
  },
});`;

let ferry: TestFerry;
let provider: ItemsProvider;
let control: Control;

beforeAll(async () => {
  provider = await startItemsProvider(1);
  ferry = await startTestFerry({});
  control = controlConnection(ferry, 'lostwebhook-test');
  await deployProvider(ferry, { provider: 'hookp', baseUrl: provider.url, scripts: { 'syncs/a-slow.ts': syncSource('SeenA', true), 'syncs/b-fast.ts': syncSource('SeenB', false) } });
  expect((await ferry.api.put('/providers/hookp/webhook', {
    signature_header: 'x-hook-signature', secret: SECRET, connection_id_path: 'account', event_path: 'type',
  })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
});

async function deliver(payload: unknown) {
  const body = JSON.stringify(payload);
  const res = await fetch(`${ferry.url}/webhooks/dev/hookp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hook-signature': createHmac('sha256', SECRET).update(body).digest('hex') },
    body,
  });
  return { status: res.status, body: await res.json() as { id: string } };
}

test('a delivery whose second run start loses the database is queued again and runs each subscribed sync once', async () => {
  // Each attempt its own connection: a CI retry finds the first attempt's runs and records.
  const connection = idForThisAttempt('hook-1');
  await createConnection(ferry, connection, 'hookp');
  const itemReadsBefore = provider.requests.filter((r) => r.path === '/items').length;
  provider.delayMs = 2_500; // a-slow's run is still going while the test takes b-fast's run row
  const ack = await deliver({ type: 'thing.changed', delivery: 'd-1', account: connection });
  expect(ack.status).toBe(202);
  const jobId = ack.body.id;
  await waitFor('a-slow running for the delivery', async () =>
    (await control`select 1 from runs where kind = 'webhook' and script_name = 'a-slow' and status = 'running' and job_id = ${jobId}`)[0], 30_000);
  const { kills } = await whileHolding(control, (hold) => hold`
      insert into runs (connection_id, script_name, variant, kind, script_version, status, trigger, job_id)
      select id, 'b-fast', 'base', 'webhook', 1, 'running', 'webhook', ${jobId} from connections where connection_id = ${connection}`,
  () => terminateLockWaitersUntil(control, [STATEMENT_NAMES.runStart], 'the delivery job settled after its second start lost the database',
    () => settledJobState(control, jobId, ['active', 'created', 'retry']), 45_000));
  expect(kills).toBeGreaterThanOrEqual(4);
  provider.delayMs = 0;

  await waitFor('b-fast to save the delivery', async () => {
    const { records } = await readAll(ferry.api, connection, 'SeenB');
    return records.length > 0 ? records : undefined;
  }, 30_000);
  // Once each: a-slow is not run again for the delivery it already took (one provider read).
  await pastTheRequeueDelay();
  const runs = await control<{ script_name: string; status: string }[]>`
    select r.script_name, r.status from runs r join connections c on c.id = r.connection_id
    where r.kind = 'webhook' and c.connection_id = ${connection} order by r.script_name`;
  expect(runs).toEqual([{ script_name: 'a-slow', status: 'succeeded' }, { script_name: 'b-fast', status: 'succeeded' }]);
  expect(provider.requests.filter((r) => r.path === '/items').length - itemReadsBefore).toBe(1);
  expect((await readAll(ferry.api, connection, 'SeenA')).records.map((r: { id: string }) => r.id)).toEqual(['d-1']);
  expect((await readAll(ferry.api, connection, 'SeenB')).records.map((r: { id: string }) => r.id)).toEqual(['d-1']);
  expect(await pendingJobs(control, WEBHOOK_QUEUE)).toHaveLength(0);
}, 120_000);
