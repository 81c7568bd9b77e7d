/**
 * A run that lost its run writes nothing at its settle either, where the settle's own finish is
 * its fence (host/sync/run-sync.ts: a sync with no part and no deletes to apply settles without a
 * separate fence claim). A real worker host process (`node host/main.ts`, FERRY_ROLE=worker) is
 * frozen with SIGSTOP while its script waits for its last page, which it reads and then returns:
 * nothing left to write but the settle. Past the stale-run limit another worker fails the run as
 * WORKER_LOST and its retry succeeds. Then SIGCONT: the woken script succeeds, and its settle is
 * refused — the sync state (lastSyncDate, which its older pass would move back), the runs and the
 * records stay exactly as they were.
 */
import { expect, test } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';
import { freezeScene, loseFrozenRun, wokenWorkerLogs } from './frozen-worker.ts';
import { startItemsProvider } from './items-provider.ts';

/** Saves the first page of 5, then reads the second and returns: a full sync without trackDeletes. */
const TWO_PAGES = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'The first page of items, then a look at the second',
  frequency: 'every 1 hour',
  syncType: 'full',
  models: { Item },
  exec: async (nango) => {
    const first = await nango.get<{ items: Array<z.infer<typeof Item>>; next: string | null }>({ endpoint: '/items', params: { after: '', limit: '5' }, retries: 0 });
    await nango.batchSave(first.data.items, 'Item');
    await nango.get({ endpoint: '/items', params: { after: first.data.next ?? '', limit: '5' }, retries: 0 });
  },
});`;

async function snapshot(db: TestDatabase, connectionId: string) {
  return {
    records: await db.sql`select id, data, hash, cursor::text, deleted_at, last_action, last_run_id::text from records where connection_id = ${connectionId} order by id`,
    state: await db.sql`select * from sync_state where connection_id = ${connectionId}`,
    runs: await db.sql`select * from runs where connection_id = ${connectionId} order by id`,
  };
}

test('SIGSTOP a worker before its run settles, past the stale-run limit, let a newer run succeed, SIGCONT: its settle changes nothing', async ({ onTestFinished }) => {
  const provider = await startItemsProvider(10);
  onTestFinished(() => provider.close());
  const setup = { provider: 'settlep', sync: 'pages', source: TWO_PAGES, connection: 'settle-1' };
  const scene = await freezeScene(onTestFinished, provider, setup);
  const { cluster: { db, api }, worker, connectionId } = scene;
  expect(scene.first).toMatchObject({ status: 'succeeded', counts: { added: 5 } });

  const page2 = provider.holdPage('005');
  expect((await api.post('/syncs/pages/trigger', { connection_id: 'settle-1' })).status).toBeLessThan(300);
  await waitFor('the run to ask for page 2', async () => (page2.arrived() ? true : undefined), 60_000);
  const [frozen] = await db.sql<{ id: string }[]>`select id from runs where connection_id = ${connectionId} and status = 'running'`;
  expect(frozen).toBeDefined();
  worker.signal('SIGSTOP');
  page2.release();
  await waitFor('page 2 answered into the frozen process', async () => (page2.answered() ? true : undefined), 30_000);

  await loseFrozenRun(scene, setup, frozen!.id);
  const before = await snapshot(db, connectionId);
  // The newer pass began after the frozen one: had the frozen run's settle gone through, it would move lastSyncDate back.
  const [frozenRun] = await db.sql<{ started_at: Date }[]>`select started_at from runs where id = ${frozen!.id}`;
  expect((before.state[0]!.last_sync_date as Date).getTime()).toBeGreaterThan(frozenRun!.started_at.getTime());

  worker.signal('SIGCONT');
  // The woken script returns; its settle is refused and the run given up as lost.
  await wokenWorkerLogs(scene, 'the woken process to give the run up', 'sync run lost', 60_000);
  expect(await snapshot(db, connectionId)).toEqual(before);
  expect((await db.sql`select status, error->>'code' as code from runs where id = ${frozen!.id}`)[0]).toEqual({ status: 'failed', code: 'WORKER_LOST' });
}, 180_000);
