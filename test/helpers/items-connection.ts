/**
 * The sync scripts that read test/sync/items-provider.ts, and the steps that give a test host a
 * provider entry pointing at that server and a connection to it, as a user sets one up.
 */
import { expect } from 'vitest';
import { deploySources, waitForRun, type TestFerry } from './ferry.ts';

/**
 * A sync of every item in one page (`/items?limit=1000`), hourly, so that after the connection's
 * first run the next one comes only from what the test does. Incremental: it asks for the items
 * changed since lastSyncDate (all of them on a full pass). trackDeletes: items gone are deleted.
 */
export function itemsSyncSource(options: { syncType?: 'full' | 'incremental'; trackDeletes?: boolean } = {}): string {
  const incremental = options.syncType === 'incremental';
  return `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: ${JSON.stringify(incremental ? 'items changed since the last run (all of them on a full pass)' : 'every item in one page')},
  frequency: 'every 1 hour',
  syncType: '${incremental ? 'incremental' : 'full'}',${options.trackDeletes ? '\n  trackDeletes: true,' : ''}
  models: { Item },
  exec: async (nango) => {
    const params: Record<string, string> = { limit: '1000' };
    ${incremental ? 'if (nango.lastSyncDate) params.since = nango.lastSyncDate.toISOString();' : ''}
    const res = await nango.get<{ items: Array<z.infer<typeof Item>> }>({ endpoint: '/items', params, retries: 0 });
    await nango.batchSave(res.data.items, 'Item');
  },
});`;
}

/** Every item in one page, a full sync (see itemsSyncSource). */
export const ITEMS_FULL_SYNC = itemsSyncSource();

export interface ProviderSetup {
  /** Provider name: the scripts' folder and the catalog entry. */
  provider: string;
  /** Where the provider's API listens (auth none). */
  baseUrl: string;
  /** Scripts by path below the provider's folder, e.g. `{ 'syncs/items.ts': ITEMS_FULL_SYNC }`. */
  scripts: Record<string, string>;
}

/** Deploys `scripts` under `provider/` and points the provider at `baseUrl`. */
export async function deployProvider(ferry: TestFerry, setup: ProviderSetup): Promise<void> {
  const files = Object.fromEntries(Object.entries(setup.scripts).map(([path, source]) => [`${setup.provider}/${path}`, source]));
  await deploySources(ferry, files);
  expect((await ferry.api.put(`/providers/${setup.provider}`, { base_url: setup.baseUrl, auth: { type: 'none' } })).status).toBe(200);
}

/** Creates a connection, which enables the provider's auto-starting syncs: their first runs are queued at once. */
export async function createConnection(ferry: TestFerry, connectionId: string, provider: string): Promise<void> {
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider })).status).toBe(201);
}

/** deployProvider, then createConnection. */
export async function deployProviderConnection(ferry: TestFerry, setup: ProviderSetup & { connectionId: string }): Promise<void> {
  await deployProvider(ferry, setup);
  await createConnection(ferry, setup.connectionId, setup.provider);
}

/** The connection's first (automatic) run of `sync`, once it has finished. */
export function firstRunOf(ferry: TestFerry, connectionId: string, sync: string) {
  return waitForRun(ferry.api, connectionId, sync, '0', 60_000);
}
