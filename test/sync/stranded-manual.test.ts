/**
 * A manual trigger whose job was claimed by a process that died before writing its run row is
 * sent again as the manual run it was, once the silent-job sweep finds it (its heartbeat lapsed,
 * max(10 s, FERRY_STALE_RUN_MS)): first in line (manual priority), with its `full` flag, and run
 * although the connection needs re-authorisation (a manual run goes and says why; a scheduled
 * one is passed over). It used to come back as the pair's next scheduled run, which for such a
 * connection never came. An API host and a worker host on real Postgres, a real provider server,
 * all this attempt's own (startFullpCluster).
 */
import { expect, test } from 'vitest';
import { SYNC_QUEUE } from '../../host/queue/queue.ts';
import { waitFor } from '../helpers/ferry.ts';
import { claimSilently, silentJobFailed, startFullpCluster } from './stranded-cluster.ts';

test('a lost manual trigger is sent again as it was: manual priority, full, run despite reauth_required', async () => {
  const cluster = await startFullpCluster(3);
  const { db, api } = cluster;
  expect((await api.post('/connections', { connection_id: 'manual-lost', provider: 'fullp' })).status).toBe(201);
  const [conn] = await db.sql<{ id: string }[]>`select id from connections where connection_id = 'manual-lost'`;
  // The provider refused its credentials: the scheduler passes the pair over from now on.
  await db.sql`update connections set auth_status = 'reauth_required' where id = ${conn!.id}`;
  expect((await api.post('/syncs/people/trigger', { connection_id: 'manual-lost', full: true })).status).toBeLessThan(300);
  // Claimed as by a worker that died right after its claim: it never heartbeats again.
  const claimed = await claimSilently<{ connectionId: string; trigger: string; full?: boolean }>(db);
  expect(claimed.data).toMatchObject({ connectionId: conn!.id, trigger: 'manual', full: true });
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '1' });

  await silentJobFailed(db, claimed.id);
  // Sent again with its data and priority, in the transaction that failed it.
  const [resent] = await db.sql<{ priority: number; data: { trigger: string; full?: boolean } }[]>`
    select priority, data from pgboss.job where name = ${SYNC_QUEUE} and id <> ${claimed.id} and data->>'connectionId' = ${conn!.id} order by created_on limit 1`;
  expect(resent).toMatchObject({ priority: 1, data: { trigger: 'manual', full: true } });

  // It runs as the full manual run it was, and fails saying why (the connection needs re-authorisation), instead of never running.
  const run = await waitFor('the manual run', async () => {
    const [row] = await db.sql<{ status: string; trigger: string; is_full: boolean; error: { code?: string } | null }[]>`
      select status, trigger, is_full, error from runs where connection_id = ${conn!.id} and status <> 'running' order by id limit 1`;
    return row;
  }, 30_000);
  expect(run).toMatchObject({ trigger: 'full', is_full: true });
  expect(run.error?.code).toBe('CONNECTION_REAUTH_REQUIRED');
  const [{ n } = { n: -1 }] = await db.sql<{ n: number }[]>`select count(*)::int as n from runs where connection_id = ${conn!.id}`;
  expect(n).toBe(1);
}, 120_000);
