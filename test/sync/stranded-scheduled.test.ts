/**
 * A scheduled job claimed by a process that died before writing its run row is sent again by the
 * silent-job sweep (its heartbeat lapsed, max(10 s, FERRY_STALE_RUN_MS)) with its data, so with
 * the due time the tick gave it. What an operator expects of that, and what these tests hold:
 * it runs at once (not a period later), once, as the scheduled run it was; its run's
 * `scheduled_for` is that due time, so the start lag counts the loss instead of hiding it; the
 * pair's next due time stays where the tick put it. And a sync paused meanwhile does not run it:
 * a scheduled job, lost or only queued, of a sync (or connection) paused since the tick is
 * skipped, as the tick would not queue it now (it ran). The job is queued by the host's own tick
 * (host/queue/queue.ts) and claimed by a pg-boss client of the test's that never heartbeats, as a
 * worker killed right after its claim; an API host and a worker host on real Postgres, a real
 * provider server, all each attempt's own (startFullpCluster).
 */
import { expect, test } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { createQueue, SYNC_QUEUE } from '../../host/queue/queue.ts';
import { createParts } from '../../host/sync/parts.ts';
import { createSyncState } from '../../host/sync/sync-state.ts';
import { waitFor } from '../helpers/ferry.ts';
import { claimSilently, silentJobFailed, startFullpCluster, type FullpCluster, type SilentClaim } from './stranded-cluster.ts';

interface Lost { connectionId: string; internalId: string; nextRunAt: Date; claim: SilentClaim<{ connectionId: string; trigger: string; scheduledFor: string }> }

/**
 * A new connection's first run, due now, queued by the host's tick and claimed by a client that
 * then goes silent, as a worker killed right after its claim.
 */
async function loseScheduledJob({ db, api }: FullpCluster): Promise<Lost> {
  const connectionId = 'lost-scheduled';
  expect((await api.post('/connections', { connection_id: connectionId, provider: 'fullp' })).status).toBe(201);
  const [conn] = await db.sql<{ id: string }[]>`select id from connections where connection_id = ${connectionId}`;
  const queue = await createQueue({ sql: db.sql, logger: createLogger({ level: 'silent' }), supervise: false, staleJobMs: 2_000 });
  try {
    await waitFor('the tick to queue the first run', async () => ((await queue.tick(createSyncState(db.sql), createParts(db.sql))) > 0 ? true : undefined));
  } finally {
    await queue.close();
  }
  const claim = await claimSilently<Lost['claim']['data']>(db);
  expect(claim.data).toMatchObject({ connectionId: conn!.id, trigger: 'schedule', scheduledFor: expect.any(String) });
  const [state] = await db.sql<{ next_run_at: Date }[]>`select next_run_at from sync_state where connection_id = ${conn!.id} and sync_name = 'people'`;
  return { connectionId, internalId: conn!.id, nextRunAt: state!.next_run_at, claim };
}

/** The job the sweep sent again for `lost`, once it is settled. */
async function resentJobSettled({ db }: FullpCluster, lost: Lost): Promise<{ id: string; state: string }> {
  await silentJobFailed(db, lost.claim.id);
  return waitFor('the job sent again to be settled', async () => {
    const [row] = await db.sql<{ id: string; state: string }[]>`
      select id::text, state::text as state from pgboss.job
      where name = ${SYNC_QUEUE} and id <> ${lost.claim.id} and data->>'connectionId' = ${lost.internalId} and state in ('completed', 'failed')`;
    return row;
  }, 40_000);
}

test('a lost scheduled job runs at once, once, as scheduled for its due time; the next due time stays', async () => {
  const cluster = await startFullpCluster(3); // the API host only: nothing ticks or claims but the test
  const lost = await loseScheduledJob(cluster);
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
  const resent = await resentJobSettled(cluster, lost);
  expect(resent.state).toBe('completed');
  const runs = await cluster.db.sql<{ status: string; trigger: string; job_id: string; scheduled_for: Date }[]>`
    select status, trigger, job_id, scheduled_for from runs where connection_id = ${lost.internalId} order by id`;
  expect(runs).toEqual([{ status: 'succeeded', trigger: 'schedule', job_id: resent.id, scheduled_for: new Date(lost.claim.data.scheduledFor) }]);
  const [state] = await cluster.db.sql<{ next_run_at: Date }[]>`select next_run_at from sync_state where connection_id = ${lost.internalId} and sync_name = 'people'`;
  expect(state!.next_run_at.toISOString()).toBe(lost.nextRunAt.toISOString());
}, 120_000);

test('a lost scheduled job of a sync paused meanwhile is not run: the sweep sends it again, and it is skipped', async () => {
  const cluster = await startFullpCluster(3);
  const lost = await loseScheduledJob(cluster);
  expect((await cluster.api.post('/syncs/people/pause', { connection_id: lost.connectionId })).status).toBe(200);
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
  const resent = await resentJobSettled(cluster, lost);
  expect(resent.state).toBe('completed');
  const runs = await cluster.db.sql`select id from runs where connection_id = ${lost.internalId}`;
  expect(runs).toEqual([]);
}, 120_000);
