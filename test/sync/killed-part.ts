/**
 * What the killed-part tests share (split-crash for time windows, split-keys-crash for keys): a
 * cluster of the test's own whose only process running parts is a real worker host (`node
 * host/main.ts`, FERRY_ROLE=worker), killed with SIGKILL once a part of the connection's split
 * first sync has saved a checkpoint; then another worker takes over. Everything is each attempt's
 * own, so CI's retry of a failed attempt starts with a live worker again, not the one it killed.
 */
import { expect, onTestFinished } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { deploySources, waitFor, type ApiClient } from '../helpers/ferry.ts';
import { startMultiHost } from '../helpers/multi-host.ts';

export interface KilledPart {
  db: TestDatabase;
  api: ApiClient;
  /** The part whose worker was killed, its run, and the checkpoint it had saved when its process died. */
  part: string;
  runId: string;
  checkpoint: { after: string };
  /** Starts a worker host here; resolves once it has failed the killed run as WORKER_LOST, retried the part and completed the pass. */
  resume(): Promise<KilledPartResumed>;
}

export interface KilledPartResumed {
  /** The killed part's next run. */
  retry: { resumed: boolean; fetch_checkpoint: unknown; status: string };
}

/** `scripts` (paths with their provider folder) deployed, `provider` at `baseUrl`, and connection `connectionId`'s first pass begun by a worker that is then killed mid-part. */
export async function killAPartMidRun(setUp: { provider: string; baseUrl: string; scripts: Record<string, string>; connectionId: string }): Promise<KilledPart> {
  // The API alone: until the spawned worker is killed, it is the only process running parts.
  const cluster = await startMultiHost({ FERRY_RUNTIME_WORKERS: '2' });
  onTestFinished(() => cluster.close());
  const { db, api } = cluster;
  await deploySources(cluster, setUp.scripts);
  expect((await api.put(`/providers/${setUp.provider}`, { base_url: setUp.baseUrl, auth: { type: 'none' } })).status).toBe(200);
  const worker = cluster.spawnWorker();

  expect((await api.post('/connections', { connection_id: setUp.connectionId, provider: setUp.provider })).status).toBe(201);
  const running = await waitFor('a part to save a checkpoint', async () => {
    const [row] = await db.sql<{ part: string; run_id: string }[]>`
      select p.part, p.run_id from sync_parts p join runs r on r.id = p.run_id
      where p.checkpoint is not null and p.status = 'running' and r.status = 'running' limit 1`;
    return row;
  }, 60_000);
  await worker.kill();
  expect(worker.child.signalCode).toBe('SIGKILL');
  // What the killed part had saved when its process died (it may have moved on since the read above).
  const [atKill] = await db.sql<{ checkpoint: { after: string } }[]>`select checkpoint from sync_parts where part = ${running.part}`;
  const [state] = await db.sql<{ last_sync_date: Date | null; pass_started_at: Date }[]>`select last_sync_date, pass_started_at from sync_state`;
  expect(state!.last_sync_date).toBeNull();

  return {
    db, api, part: running.part, runId: running.run_id, checkpoint: atKill!.checkpoint,
    async resume() {
      await cluster.start({ FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: '2' });
      const lost = await waitFor('the killed part\'s run to be failed', async () => {
        const [row] = await db.sql<{ status: string; error: { code: string } | null }[]>`select status, error from runs where id = ${running.run_id}`;
        return row?.status === 'failed' ? row : undefined;
      }, 60_000);
      expect(lost.error?.code).toBe('WORKER_LOST');

      const done = await waitFor('the pass to succeed', async () => {
        const [row] = await db.sql<{ last_sync_date: Date | null }[]>`select last_sync_date from sync_state`;
        return row?.last_sync_date ? row : undefined;
      }, 120_000);
      // lastSyncDate is the start of the pass the killed process began, and no part is left.
      expect(done.last_sync_date!.getTime()).toBe(state!.pass_started_at.getTime());
      expect(await db.sql`select 1 from sync_parts`).toHaveLength(0);
      // The retry of the killed part started from its checkpoint.
      const [retry] = await db.sql<KilledPartResumed['retry'][]>`
        select resumed, fetch_checkpoint, status from runs where part = ${running.part} and id > ${running.run_id} order by id limit 1`;
      expect(retry).toMatchObject({ resumed: true, fetch_checkpoint: atKill!.checkpoint, status: 'succeeded' });
      return { retry: retry! };
    },
  };
}
