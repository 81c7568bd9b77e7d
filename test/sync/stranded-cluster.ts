/**
 * What the stranded-job tests share: a cluster of this attempt's own whose API host alone runs at
 * first (nothing ticks or claims but the test), with test/sync/fixtures deployed and provider
 * fullp on an items server; and a pg-boss client that claims a sync job and then never
 * heartbeats, as a worker killed right after its claim.
 */
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { expect, onTestFinished } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { pgBossDb } from '../../host/queue/pg-boss-db.ts';
import { SYNC_QUEUE } from '../../host/queue/queue.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { TEST_SECRET_KEY, waitFor } from '../helpers/ferry.ts';
import { startMultiHost, type MultiHost } from '../helpers/multi-host.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

export interface FullpCluster extends MultiHost {
  provider: ItemsProvider;
}

/**
 * startMultiHost (the API host only) with the fixtures deployed and fullp pointing at an items
 * server of `items` items; both closed when the test (this attempt of it) finishes, so CI's retry
 * starts with no worker, job or run its first attempt left.
 */
export async function startFullpCluster(items: number): Promise<FullpCluster> {
  const provider = await startItemsProvider(items);
  onTestFinished(() => provider.close());
  const cluster = await startMultiHost();
  onTestFinished(() => cluster.close());
  await deployScripts({ dir: FIXTURES, url: cluster.url, key: TEST_SECRET_KEY });
  expect((await cluster.api.put('/providers/fullp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  return Object.assign(cluster, { provider });
}

export interface SilentClaim<T> {
  id: string;
  data: T;
  /** Stops the claiming client (the job stays claimed, its heartbeat lapsing). */
  stop(): Promise<void>;
}

/** Claims the next sync job with a pg-boss client of its own that never heartbeats again; stopped when the test finishes. */
export async function claimSilently<T extends object>(db: TestDatabase): Promise<SilentClaim<T>> {
  const claimer = new PgBoss({ db: pgBossDb(db.sql), schema: 'pgboss', supervise: false, schedule: false, migrate: false });
  claimer.on('error', () => {});
  await claimer.start();
  let stopped: Promise<void> | null = null;
  const stop = () => (stopped ??= claimer.stop({ graceful: false, timeout: 1_000 }));
  onTestFinished(stop);
  const [claimed] = await claimer.fetch<T>(SYNC_QUEUE, { batchSize: 1 });
  if (!claimed) throw new Error('no sync job to claim');
  return { id: claimed.id, data: claimed.data, stop };
}

/** The silent job once the silent-job sweep has failed it (its heartbeat lapsed), with the output it was failed with. */
export function silentJobFailed(db: TestDatabase, jobId: string) {
  return waitFor('the silent job to be failed', async () => {
    const [row] = await db.sql<{ state: string; output: { message?: string } | null }[]>`select state::text as state, output from pgboss.job where id = ${jobId}`;
    return row?.state === 'failed' ? row : undefined;
  }, 40_000);
}
