/**
 * A writer that lost its run writes nothing. A real worker host process (`node host/main.ts`,
 * FERRY_ROLE=worker) is frozen with SIGSTOP mid-run, with a page of old data in flight. Past the
 * stale-run limit another worker fails the run as WORKER_LOST and its retry succeeds with newer
 * data. Then SIGCONT: the woken process tries to save its page, checkpoint and metadata, and is
 * fenced — records, checkpoint, sync state, metadata and run rows stay exactly as they were.
 */
import { expect, test } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';
import { freezeScene, loseFrozenRun, wokenWorkerLogs } from './frozen-worker.ts';
import { startItemsProvider } from './items-provider.ts';

/** Pages of 5; after each page a checkpoint and the connection's metadata move. */
const PAGED = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'Every item, resumable, noting its progress in metadata',
  frequency: 'every 1 hour',
  syncType: 'full',
  trackDeletes: true,
  models: { Item },
  exec: async (nango) => {
    const checkpoint = await nango.getCheckpoint<{ after: string }>();
    let after = checkpoint?.after ?? '';
    for (;;) {
      const res = await nango.get<{ items: Array<z.infer<typeof Item>>; next: string | null }>({ endpoint: '/items', params: { after, limit: '5' }, retries: 0 });
      await nango.batchSave(res.data.items, 'Item');
      nango.log('saved page after', after);
      await nango.updateMetadata({ last_page_after: after, first_name: res.data.items[0]?.name ?? null });
      if (!res.data.next) break;
      after = res.data.next;
      await nango.saveCheckpoint({ after });
    }
  },
});`;

/** Everything a run may write, as the database holds it. */
async function snapshot(db: TestDatabase, connectionId: string) {
  return {
    records: await db.sql`select id, data, hash, cursor::text, deleted_at, last_action, last_run_id::text, synced_by from records where connection_id = ${connectionId} order by id`,
    state: await db.sql`select * from sync_state where connection_id = ${connectionId}`,
    seen: await db.sql`select * from sync_seen where connection_id = ${connectionId} order by id`,
    metadata: await db.sql`select metadata, updated_at from connections where id = ${connectionId}`,
    runs: await db.sql`select * from runs where connection_id = ${connectionId} order by id`,
    logs: await db.sql`select l.* from run_logs l join runs r on r.id = l.run_id where r.connection_id = ${connectionId} order by l.run_id, l.seq`,
  };
}

// Everything (database, hosts, the worker process to freeze, the provider) is this attempt's
// own: CI's retry of an attempt that failed while its worker was frozen starts with a live one.
test('SIGSTOP a worker mid-run past the stale-run limit, let a newer run succeed, SIGCONT: nothing changes', async ({ onTestFinished }) => {
  const provider = await startItemsProvider(12);
  onTestFinished(() => provider.close());
  const setup = { provider: 'fencep', sync: 'paged', source: PAGED, connection: 'fence-1' };
  const scene = await freezeScene(onTestFinished, provider, setup);
  const { cluster: { db, api }, worker, connectionId } = scene;
  expect(scene.first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });

  // v2 upstream; page 2 is held unanswered: the run saves page 1, checkpoints, then waits on it.
  for (const id of provider.items.keys()) provider.put(id, `v2 ${id}`);
  const page2 = provider.holdPage('005');
  expect((await api.post('/syncs/paged/trigger', { connection_id: 'fence-1' })).status).toBeLessThan(300);
  await waitFor('the run to ask for page 2', async () => (page2.arrived() ? true : undefined), 60_000);
  const [frozen] = await db.sql<{ id: string }[]>`
    select r.id from runs r join sync_state s on s.connection_id = r.connection_id and s.sync_name = r.script_name
    where r.connection_id = ${connectionId} and r.status = 'running' and s.checkpoint is not null`;
  expect(frozen).toBeDefined();
  worker.signal('SIGSTOP');
  // The provider answers page 2 (v2 data) into the frozen process's socket; only then v3.
  page2.release();
  await waitFor('page 2 answered into the frozen process', async () => (page2.answered() ? true : undefined), 30_000);
  for (const id of provider.items.keys()) provider.put(id, `v3 ${id}`);

  // Another worker fails the frozen run and its retry succeeds with v3.
  await loseFrozenRun(scene, setup, frozen!.id);
  const names = (await db.sql<{ id: string; name: string }[]>`select id, data->>'name' as name from records where connection_id = ${connectionId} order by id`);
  // Page 1 is the frozen run's v2 (committed before the freeze); the retry resumed after it with v3.
  expect(names.filter((r) => r.name.startsWith('v3')).map((r) => r.id)).toEqual([...provider.items.keys()].sort().slice(5));
  const before = await snapshot(db, connectionId);
  expect(before.state[0]).toMatchObject({ checkpoint: null });

  worker.signal('SIGCONT');
  // The woken process tries its page-2 batch and is refused.
  await wokenWorkerLogs(scene, 'the woken process to be fenced', 'run fenced', 60_000);
  // ...and, once it has tried everything it had left, gives the run up as lost.
  await wokenWorkerLogs(scene, 'the woken process to give the run up', 'sync run lost', 30_000);
  const after = await snapshot(db, connectionId);
  expect(after).toEqual(before);
  expect(after.records.filter((r) => String(r.data.name).startsWith('v2')).map((r) => r.id)).toEqual(['001', '002', '003', '004', '005']);
  expect((await db.sql`select status, error->>'code' as code from runs where id = ${frozen!.id}`)[0]).toEqual({ status: 'failed', code: 'WORKER_LOST' });
}, 180_000);
