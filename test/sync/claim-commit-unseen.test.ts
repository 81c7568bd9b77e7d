/**
 * A sync job's claim whose COMMIT went through unseen (the connection to Postgres dropped right
 * after it, before the answer) is recognised by the worker that made it, which runs the job at
 * once. It used to be left active with no worker, its pair blocked, until the silent-job sweep
 * (FERRY_STALE_RUN_MS, a minute) failed it and sent it again. Through a whole host whose database
 * connections go through a TCP proxy on 127.0.0.1 that drops the connection instead of passing on
 * the COMMIT answer of the transaction that claimed a job (the one taking the claims' advisory
 * lock and answered "UPDATE 1").
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SYNC_QUEUE } from '../../host/queue/queue.ts';
import { claimName } from '../../host/queue/serial-claims.ts';
import { commandComplete } from '../helpers/dropping-proxy.ts';
import { idForThisAttempt, waitFor, waitForRun } from '../helpers/ferry.ts';
import { deployProvider, createConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startProxiedFerry, type ProxiedFerry } from '../helpers/proxied-ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

let ferry: ProxiedFerry;
let provider: ItemsProvider;

beforeAll(async () => {
  provider = await startItemsProvider(10);
  ferry = await startProxiedFerry({ client: Buffer.from(claimName(SYNC_QUEUE)), server: commandComplete('UPDATE 1') });
  await deployProvider(ferry, { provider: 'claimp', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC } });
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('a claim committed unseen is worked by the worker that made it: the job runs once, never failed and sent again', async () => {
  const { db, api, proxy } = ferry;
  const connectionId = idForThisAttempt('claim-unseen');
  await createConnection(ferry, connectionId, 'claimp');
  expect(await firstRunOf(ferry, connectionId, 'items')).toMatchObject({ status: 'succeeded' });
  const [{ max } = { max: '0' }] = await db.sql<{ max: string }[]>`select coalesce(max(id), 0)::text as max from runs`;
  const before = (await db.sql<{ id: string }[]>`select id::text from pgboss.job where name = ${SYNC_QUEUE}`).map((j) => j.id);

  proxy.armed = true;
  expect((await api.post('/syncs/items/trigger', { connection_id: connectionId })).status).toBe(202);
  await waitFor("the claim's COMMIT answer to be dropped", async () => (proxy.dropped === 1 ? true : undefined));

  // Long enough for the sweep too (a minute's silence): had it taken the job, a second job shows below.
  const run = await waitForRun(api, connectionId, 'items', max, 120_000);
  expect(run.status).toBe('succeeded');
  const jobs = await db.sql<{ id: string; state: string }[]>`
    select id::text, state::text from pgboss.job where name = ${SYNC_QUEUE} and id::text <> all(${before}::text[])`;
  expect(jobs).toEqual([{ id: expect.any(String), state: 'completed' }]);
  const runs = await db.sql<{ id: string; status: string; job_id: string }[]>`select id::text, status, job_id from runs where id > ${max} order by id`;
  expect(runs).toEqual([{ id: run.id, status: 'succeeded', job_id: jobs[0]!.id }]);
}, 180_000);
