/**
 * Held deletes applied later tell the app as a run's deletes do: a signed `sync` webhook per
 * model with its delete count, the run that held them and the cursor from which the app reads
 * exactly those deletes. Through a whole host, a real provider server and a real webhook receiver.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyWebhook } from '../../client/index.ts';
import { startWebhookReceiver } from '../connect/webhook-receiver.ts';
import { idForThisAttempt, readAll, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { deployProvider, itemsSyncSource } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const REPO = resolve(import.meta.dirname, '../..');
const GUARDED_SYNC = itemsSyncSource({ trackDeletes: true });

let ferry: TestFerry;
let provider: ItemsProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let secret: string;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  hooks = await startWebhookReceiver();
  ferry = await startTestFerry({ FERRY_WEBHOOK_RETRY_DELAY_S: '1' });
  await deployProvider(ferry, { provider: 'guardp', baseUrl: provider.url, scripts: { 'syncs/guarded.ts': GUARDED_SYNC } });
  secret = (await ferry.api.put('/environment/settings', { webhook_url: hooks.url })).body.webhook_secret;
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await hooks?.close();
  await provider?.close();
});

const syncDeliveries = async (connectionId: string) => {
  return ferry.db.sql<{ payload: any }[]>`
    select payload from webhook_deliveries where event_type = 'sync' and payload->>'connection_id' = ${connectionId} order by id`;
};
const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO });

/** Runs a first sync of 12 items, then one the provider answers empty: its 12 deletes are held. */
async function holdDeletes(connectionId: string) {
  provider.items.clear();
  for (let i = 1; i <= 12; i++) provider.put(String(i).padStart(3, '0'));
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'guardp' })).status).toBe(201);
  const first = await waitForRun(ferry.api, connectionId, 'guarded', '0', 60_000);
  expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });
  provider.items.clear();
  expect((await ferry.api.post('/syncs/guarded/trigger', { connection_id: connectionId })).status).toBe(202);
  const held = await waitForRun(ferry.api, connectionId, 'guarded', first.id, 60_000);
  expect(held.warnings).toEqual([expect.objectContaining({ code: 'DELETES_HELD', held: 12 })]);
  // The held run's own event reports no deletes.
  await waitFor('the held run’s webhook', async () => hooks.events('sync').find((e) => e.run_id === held.id));
  return held;
}

describe('applying held deletes', () => {
  test('sends one signed sync webhook with the deletes, from whose cursor the app reads exactly them', async () => {
    // Its own connection on each attempt: holdDeletes creates it.
    const connection = idForThisAttempt('guard-api');
    const held = await holdDeletes(connection);
    const before = (await syncDeliveries(connection)).length;

    const applied = await ferry.api.post('/syncs/guarded/held-deletes/apply', { connection_id: connection });
    expect(applied).toMatchObject({ status: 200, body: { applied: [{ model: 'Item', deleted: 12, run_id: held.id }] } });

    const delivery = await waitFor('the apply’s webhook', async () => hooks.deliveries.find((d) => {
      const e = JSON.parse(d.body);
      return e.type === 'sync' && e.connection_id === connection && e.counts.deleted === 12;
    }));
    const event = await verifyWebhook(secret, delivery.headers as Record<string, string>, delivery.body);
    expect(event).toEqual({
      type: 'sync', from: 'ferry', connection_id: connection, provider: 'guardp', sync_name: 'guarded', model: 'Item',
      sync_type: 'full', run_id: held.id, counts: { added: 0, updated: 0, deleted: 12 },
      cursor: expect.stringMatching(/^\d+$/), modified_after: expect.any(String),
    });
    // Reading from the event's cursor gives exactly the 12 deletes.
    const changed = (await readAll(ferry.api, connection, 'Item', (event as { cursor: string }).cursor)).records;
    expect(changed).toHaveLength(12);
    expect(changed.every((r) => r._ferry_metadata.last_action === 'deleted')).toBe(true);
    expect(changed.every((r) => Date.parse(r._ferry_metadata.deleted_at) >= Date.parse((event as { modified_after: string }).modified_after))).toBe(true);
    // Exactly one event was written for the apply.
    expect((await syncDeliveries(connection)).length).toBe(before + 1);

    // Nothing left to apply: no event.
    expect((await ferry.api.post('/syncs/guarded/held-deletes/apply', { connection_id: connection })).body).toEqual({ applied: [] });
    await new Promise((r) => setTimeout(r, 300));
    expect((await syncDeliveries(connection)).length).toBe(before + 1);
  }, 180_000);

  test('from the CLI as from the API; a discard sends nothing', async () => {
    // Their own connections on each attempt: holdDeletes creates them.
    const viaCli = idForThisAttempt('guard-cli');
    const discarded = idForThisAttempt('guard-discard');
    const held = await holdDeletes(viaCli);
    const before = (await syncDeliveries(viaCli)).length;
    expect((await cli('held-deletes', 'guarded', '-c', viaCli, '--apply')).stdout).toContain('Item: 12 record(s) deleted');
    const event = await waitFor('the CLI apply’s webhook', async () => hooks.events('sync').find((e) => e.connection_id === viaCli && e.counts.deleted === 12));
    expect(event).toMatchObject({ run_id: held.id, model: 'Item' });
    expect((await syncDeliveries(viaCli)).length).toBe(before + 1);

    await holdDeletes(discarded);
    const beforeDiscard = (await syncDeliveries(discarded)).length;
    expect((await ferry.api.post('/syncs/guarded/held-deletes/discard', { connection_id: discarded })).body).toEqual({ discarded: 12 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await syncDeliveries(discarded)).length).toBe(beforeDiscard);
  }, 180_000);
});
