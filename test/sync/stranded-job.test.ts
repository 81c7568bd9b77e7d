/**
 * A killed worker strands no job: a real worker host (`node host/main.ts`, FERRY_ROLE=worker, one
 * runtime slot) with two due pairs claims only the job it starts (a slot used to fetch 2, and the
 * second stayed `active` with no run row for 100–116 s after a SIGKILL), so after the kill the
 * other pair runs at once elsewhere and the killed run is settled by the stale-run sweep. A job
 * claimed by a process that died before writing its run row is failed once its heartbeat lapses
 * (max(10 s, FERRY_STALE_RUN_MS)) and its pair is due again at once. Each attempt has its
 * cluster, worker processes and provider of its own (startFullpCluster), so CI's retry does not
 * start with the worker its first attempt killed.
 */
import { expect, test } from 'vitest';
import { SYNC_QUEUE } from '../../host/queue/queue.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';
import { claimSilently, silentJobFailed, startFullpCluster } from './stranded-cluster.ts';

const jobStates = (db: TestDatabase) => db.sql<{ state: string; n: number }[]>`
  select state::text as state, count(*)::int as n from pgboss.job where name = ${SYNC_QUEUE} group by state`;

test('a killed worker strands nothing: the pair it had not started runs at once elsewhere, the killed run is retried', async () => {
  const cluster = await startFullpCluster(12);
  const { db, api, provider } = cluster;
  provider.delayMs = 2_000; // every page is slow: the started run is mid-way when the kill comes
  // Both pairs are due before any worker is up, so the first fetch takes both jobs.
  for (const id of ['stranded-1', 'stranded-2']) expect((await api.post('/connections', { connection_id: id, provider: 'fullp' })).status).toBe(201);
  // No reserved slot: the one regular slot is busy, so the second job waits in the queue.
  const worker = cluster.spawnWorker({ FERRY_RESERVED_SLOTS: '0' });

  const running = await waitFor('one run started, its job the only one claimed', async () => {
    const runs = await db.sql<{ id: string; connection_id: string }[]>`select id, connection_id from runs where status = 'running'`;
    const states = Object.fromEntries((await jobStates(db)).map((r) => [r.state, r.n]));
    return runs.length === 1 && states.active === 1 && states.created === 1 ? runs[0] : undefined;
  }, 60_000);
  const [{ id: waitingConnection } = { id: '' }] = await db.sql<{ id: string }[]>`select id from connections where id <> ${running.connection_id}`;
  // The slot stays busy for a while and claims nothing more meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(Object.fromEntries((await jobStates(db)).map((r) => [r.state, r.n]))).toMatchObject({ active: 1, created: 1 });

  await worker.kill();
  const killedAt = Date.now();
  provider.delayMs = 0;
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '2' });
  const other = await waitFor('the other pair to run', async () => {
    const [row] = await db.sql<{ status: string; started_at: Date }[]>`
      select status, started_at from runs where connection_id = ${waitingConnection} order by id limit 1`;
    return row?.status === 'succeeded' ? row : undefined;
  }, 60_000);
  // At once, on the survivor's first claim: the killed worker had not taken the other pair's job,
  // so it was never left active to lapse (failed, then retried, after a heartbeat). An order of
  // events, not a stopwatch: on a loaded machine the survivor's start-up alone can take seconds.
  const otherJobs = await db.sql<{ state: string; retry_count: number }[]>`
    select state::text as state, retry_count from pgboss.job where name = ${SYNC_QUEUE} and data->>'connectionId' = ${String(waitingConnection)}`;
  expect(otherJobs.length, `the other pair started ${other.started_at.getTime() - killedAt} ms after the kill`).toBeGreaterThan(0);
  expect(otherJobs.filter((j) => j.state === 'failed' || j.retry_count > 0)).toEqual([]);

  const lost = await waitFor('the killed run to be failed', async () => {
    const [row] = await db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${running.id}`;
    return row?.status === 'failed' ? row : undefined;
  }, 30_000);
  expect(lost.error?.code).toBe('WORKER_LOST');
  await waitFor('the killed pair to succeed on retry', async () => {
    const [row] = await db.sql`select 1 from runs where connection_id = ${running.connection_id} and status = 'succeeded'`;
    return row;
  }, 60_000);
}, 180_000);

test('a job claimed by a process that died before its run row: failed when its heartbeat lapses, its pair due at once', async () => {
  const cluster = await startFullpCluster(12);
  const { db, api } = cluster;
  expect((await api.post('/connections', { connection_id: 'stranded-1', provider: 'fullp' })).status).toBe(201);
  const [conn] = await db.sql<{ id: string }[]>`select id from connections where connection_id = 'stranded-1'`;
  // The pair's first run done, so that only the trigger below queues a job of it.
  const first = await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
  await waitFor('the first run', async () => (await db.sql`select 1 from runs where connection_id = ${conn!.id} and status = 'succeeded'`)[0]);
  // No worker for now, so nothing but the claimer below takes the job.
  await cluster.stop(first);
  const [before] = await db.sql<{ n: number }[]>`select count(*)::int as n from runs where connection_id = ${conn!.id}`;
  expect((await api.post('/syncs/people/trigger', { connection_id: 'stranded-1' })).status).toBeLessThan(300);
  // Claimed as by a worker that died right after its claim: it never heartbeats again.
  const claimed = await claimSilently<{ connectionId: string }>(db);
  expect(claimed.data.connectionId).toBe(conn!.id);
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });
  const failed = await silentJobFailed(db, claimed.id);
  // Failed by the silent-job sweep once its heartbeat lapsed (its message says so), not by
  // pg-boss's own expiry a minute on.
  expect(failed.output?.message).toBe('worker lost before the run started');
  // Its pair runs at once, not an hour later at its next scheduled time.
  const rerun = await waitFor('the pair to run again', async () => {
    const [row] = await db.sql<{ status: string }[]>`select status from runs where connection_id = ${conn!.id} order by id desc limit 1 offset 0`;
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from runs where connection_id = ${conn!.id}`;
    return count!.n > before!.n && row?.status === 'succeeded' ? row : undefined;
  }, 20_000);
  expect(rerun.status).toBe('succeeded');
}, 180_000);
