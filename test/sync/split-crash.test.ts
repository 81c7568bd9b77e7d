/**
 * A killed part resumes from its checkpoint: a real worker host process (`node host/main.ts`,
 * FERRY_ROLE=worker) runs a split first sync's parts and is killed with SIGKILL once a part has
 * saved a checkpoint. Another worker's scheduler fails the part's run as WORKER_LOST and retries
 * that part alone, from its checkpoint; the pass then succeeds with every record, and
 * lastSyncDate is the start of the pass the killed process began.
 */
import { expect, test } from 'vitest';
import { deploySources, readAll, waitFor } from '../helpers/ferry.ts';
import { startMultiHost } from '../helpers/multi-host.ts';
import { SPLIT_SYNC, startEvents } from './split-provider.ts';

// Everything (database, hosts, the worker process to kill, the provider) is this attempt's own:
// CI's retry of a failed attempt starts with a live worker again, not the one the attempt killed.
test('a part killed mid-run resumes from its checkpoint elsewhere; the pass completes with every record', async ({ onTestFinished }) => {
  const provider = await startEvents(60, 1_000);
  onTestFinished(() => provider.close());
  // The API alone: until the spawned worker is killed, it is the only process running parts.
  const cluster = await startMultiHost({ FERRY_RUNTIME_WORKERS: '2' });
  onTestFinished(() => cluster.close());
  const { db, api } = cluster;
  await deploySources(cluster, { 'eventsp/syncs/events.ts': SPLIT_SYNC });
  expect((await api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  const worker = cluster.spawnWorker();

  expect((await api.post('/connections', { connection_id: 'split-crash', provider: 'eventsp' })).status).toBe(201);
  const killedPart = await waitFor('a part to save a checkpoint', async () => {
    const [row] = await db.sql<{ part: string; checkpoint: { after: string }; run_id: string }[]>`
      select p.part, p.checkpoint, p.run_id from sync_parts p join runs r on r.id = p.run_id
      where p.checkpoint is not null and p.status = 'running' and r.status = 'running' limit 1`;
    return row;
  }, 60_000);
  await worker.kill();
  expect(worker.child.signalCode).toBe('SIGKILL');
  // What the killed part had saved when its process died (it may have moved on since the read above).
  const [atKill] = await db.sql<{ checkpoint: { after: string } }[]>`select checkpoint from sync_parts where part = ${killedPart.part}`;
  const [state] = await db.sql<{ last_sync_date: Date | null; pass_started_at: Date }[]>`select last_sync_date, pass_started_at from sync_state`;
  expect(state!.last_sync_date).toBeNull();

  provider.delayMs = 0;
  const requestsBefore = provider.requests.length;
  await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '2' });
  const lost = await waitFor('the killed part\'s run to be failed', async () => {
    const [row] = await db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${killedPart.run_id}`;
    return row?.status === 'failed' ? row : undefined;
  }, 60_000);
  expect(lost.error?.code).toBe('WORKER_LOST');

  const done = await waitFor('the pass to succeed', async () => {
    const [row] = await db.sql<{ last_sync_date: Date | null }[]>`select last_sync_date from sync_state`;
    return row?.last_sync_date ? row : undefined;
  }, 120_000);
  // The retry of the killed part started from its checkpoint, and asked the provider from there.
  const [retry] = await db.sql<{ resumed: boolean; fetch_checkpoint: unknown; status: string }[]>`
    select resumed, fetch_checkpoint, status from runs where part = ${killedPart.part} and id > ${killedPart.run_id} order by id limit 1`;
  expect(retry).toMatchObject({ resumed: true, fetch_checkpoint: atKill!.checkpoint, status: 'succeeded' });
  const from = provider.requests.slice(requestsBefore).filter((r) => r.from === killedPart.part);
  expect(from[0]?.after).toBe(atKill!.checkpoint.after);

  const records = (await readAll(api, 'split-crash', 'Event')).records;
  expect(records.map((r) => r.id).sort()).toEqual([...provider.events.keys()].sort());
  expect(done.last_sync_date!.getTime()).toBe(state!.pass_started_at.getTime());
  expect(await db.sql`select 1 from sync_parts`).toHaveLength(0);
}, 240_000);
