/**
 * A sync job carries its connection's environment and provider (the tick and a manual trigger
 * put them in), so the run reads its connection together with its other reads, in one round trip
 * (host/sync/run-sync.ts). A job without them — queued by a host from before they were carried —
 * still runs: it reads the connection first. One whose provider disagrees with the connection's
 * (never made by Ferry: a connection's provider does not change) runs the connection's own script,
 * not the other provider's. A real host on real Postgres and a real provider server.
 */
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pgBossDb } from '../../host/queue/pg-boss-db.ts';
import { singletonKey, SYNC_QUEUE } from '../../host/queue/queue.ts';
import { deploySources, startTestFerry, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { createConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

let ferry: TestFerry;
let provider: ItemsProvider;
let boss: PgBoss;

beforeAll(async () => {
  provider = await startItemsProvider(5);
  ferry = await startTestFerry();
  // Two providers with a sync of the same name, deployed together; carryb's API does not answer,
  // so running its script fails.
  await deploySources(ferry, { 'carrya/syncs/items.ts': ITEMS_FULL_SYNC, 'carryb/syncs/items.ts': ITEMS_FULL_SYNC });
  expect((await ferry.api.put('/providers/carrya', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.put('/providers/carryb', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  await createConnection(ferry, 'carry-1', 'carrya');
  boss = new PgBoss({ db: pgBossDb(ferry.db.sql), schema: 'pgboss', supervise: false, schedule: false, migrate: false });
  boss.on('error', () => {});
  await boss.start();
}, 120_000);
afterAll(async () => {
  await boss?.stop({ graceful: false, timeout: 1_000 });
  await ferry?.close();
  await provider?.close();
});

test('the tick and a manual trigger queue the connection\'s environment and provider with the job', async () => {
  expect(await firstRunOf(ferry, 'carry-1', 'items')).toMatchObject({ status: 'succeeded', counts: { added: 5 } });
  const [conn] = await ferry.db.sql<{ id: string; environment_id: string }[]>`select id, environment_id::text from connections where connection_id = 'carry-1'`;
  const data = async (trigger: string) => (await ferry.db.sql<{ data: Record<string, unknown> }[]>`
    select data from pgboss.job where name = ${SYNC_QUEUE} and data->>'connectionId' = ${conn!.id} and data->>'trigger' = ${trigger}
    order by created_on desc limit 1`)[0]?.data;
  expect(await data('schedule')).toMatchObject({ environmentId: conn!.environment_id, provider: 'carrya' });
  const [{ max } = { max: '0' }] = await ferry.db.sql<{ max: string }[]>`select coalesce(max(id), 0)::text as max from runs`;
  expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'carry-1' })).status).toBe(202);
  expect(await waitForRun(ferry.api, 'carry-1', 'items', max, 60_000)).toMatchObject({ status: 'succeeded' });
  expect(await data('manual')).toMatchObject({ environmentId: conn!.environment_id, provider: 'carrya' });
}, 120_000);

test.each([
  ['without the environment and provider (queued by an older host)', {}],
  ['whose provider is not the connection\'s', { provider: 'carryb' }],
])('a job %s runs the connection\'s own sync', async (_, carried) => {
  // The connection's first run has finished, so no job of the pair is queued and ours is taken.
  await firstRunOf(ferry, 'carry-1', 'items');
  const [conn] = await ferry.db.sql<{ id: string; environment_id: string }[]>`select id, environment_id::text from connections where connection_id = 'carry-1'`;
  const [{ max } = { max: '0' }] = await ferry.db.sql<{ max: string }[]>`select coalesce(max(id), 0)::text as max from runs`;
  const job = {
    connectionId: conn!.id, syncName: 'items', trigger: 'manual' as const,
    ...('provider' in carried && { environmentId: conn!.environment_id, ...carried }),
  };
  // As the queue sends a manual trigger: the pair's key (one queued at a time), first in line.
  const id = await boss.send(SYNC_QUEUE, job, { singletonKey: singletonKey(job), priority: 1 });
  expect(id).not.toBeNull();
  const run = await waitForRun(ferry.api, 'carry-1', 'items', max, 60_000);
  expect(run).toMatchObject({ status: 'succeeded' });
  const [row] = await ferry.db.sql<{ job_id: string; status: string }[]>`select job_id, status from runs where id = ${run.id}`;
  expect(row).toEqual({ job_id: id, status: 'succeeded' });
}, 120_000);
