/**
 * A claim of the action queue or of the incoming-webhook queue whose COMMIT went through unseen
 * (the connection to Postgres dropped right after it, before the answer) is recognised by the
 * worker that made it, which works the job at once, as a sync claim's is
 * (test/sync/claim-commit-unseen). It used to be left active with no worker until pg-boss's
 * heartbeat sweep (FERRY_STALE_RUN_MS, a minute) failed it and spent one of its retries on it.
 * Through a whole host whose database connections go through a TCP proxy on 127.0.0.1 that drops
 * the connection instead of passing on the commit answer of the claim that took the job (the
 * statement naming the queue, answered "UPDATE 1"). Each test has its own database, proxy and host,
 * so a CI retry starts afresh.
 */
import { createHmac } from 'node:crypto';
import { expect, test } from 'vitest';
import { ACTION_QUEUE } from '../../host/actions/action-queue.ts';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry, type FerryHost } from '../../host/server.ts';
import { claimName } from '../../host/queue/serial-claims.ts';
import { WEBHOOK_QUEUE } from '../../host/webhooks-in/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { commandComplete, startDroppingProxy, type DroppingProxy } from '../helpers/dropping-proxy.ts';
import { createApiClient, readAll, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';
import { MODE_ACTION } from './mode-action.ts';

const SECRET = 'whsec_claim_unseen';

/** Saves each delivery it is sent as a record. */
const WEBHOOK_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'every webhook, as a record',
  frequency: 'every day',
  autoStart: false,
  models: { Seen: z.object({ id: z.string() }) },
  webhookSubscriptions: ['*'],
  exec: async () => {},
  onWebhook: async (nango, payload) => {
    await nango.batchSave([{ id: payload.delivery }], 'Seen');
  },
});`;

/** A host whose database connections drop the commit answer of the first claim of `queue` that takes a job, once armed. */
async function hostDroppingClaimOf(queue: string, f: (ferry: TestFerry, proxy: DroppingProxy, provider: ItemsProvider) => Promise<void>) {
  const provider = await startItemsProvider(0);
  const db: TestDatabase = await createTestDatabase();
  const proxy = await startDroppingProxy(db.url, { client: Buffer.from(claimName(queue)), server: commandComplete('UPDATE 1') });
  let host: FerryHost | undefined;
  try {
    host = await startFerry(loadConfig({
      DATABASE_URL: proxy.url(db.url), FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_RUNTIME_WORKERS: '1', FERRY_SCHEDULER_TICK_MS: '200',
      FERRY_STALE_RUN_MS: '60000', // the heartbeat sweep's bound, as in production: the job must not wait for it
    }), createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' }));
    const api = createApiClient(host.url!, TEST_SECRET_KEY);
    await f({ db, host, url: host.url!, api, close: async () => {} }, proxy, provider);
  } finally {
    await host?.close();
    await proxy.close();
    await db.drop();
    await provider.close();
  }
}

/** The queue's jobs: one, completed at its first attempt (never failed and retried). */
async function expectWorkedOnce(db: TestDatabase, queue: string) {
  expect(await db.sql`select state::text, retry_count from pgboss.job where name = ${queue}`).toEqual([{ state: 'completed', retry_count: 0 }]);
}

test('an action claim committed unseen is worked by the worker that made it: performed once, at its first attempt', async () => {
  await hostDroppingClaimOf(ACTION_QUEUE, async (ferry, proxy, provider) => {
    await deployProviderConnection(ferry, { provider: 'claimact', baseUrl: provider.url, scripts: { 'actions/mode.ts': MODE_ACTION }, connectionId: 'act-claim' });
    proxy.armed = true;
    const queued = await ferry.api.post('/actions/mode', { connection_id: 'act-claim', input: { n: 4 }, async: true });
    expect(queued.status).toBe(202);
    await waitFor("the claim's COMMIT answer to be dropped", async () => (proxy.dropped === 1 ? true : undefined));

    // Long enough for the heartbeat sweep too: had it taken the job, it reads retried below.
    const done = await waitFor('the action to settle', async () => {
      const { body } = await ferry.api.get(queued.body.status_url);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    }, 120_000);
    expect(done).toMatchObject({ status: 'succeeded', output: { n: 4 }, error: null });
    expect(provider.requests.filter((r) => r.path === '/mode')).toHaveLength(1);
    await expectWorkedOnce(ferry.db, ACTION_QUEUE);
  });
}, 180_000);

test('an incoming webhook claim committed unseen is worked by the worker that made it: routed once, at its first attempt', async () => {
  await hostDroppingClaimOf(WEBHOOK_QUEUE, async (ferry, proxy, provider) => {
    await deployProviderConnection(ferry, { provider: 'claimhook', baseUrl: provider.url, scripts: { 'syncs/seen.ts': WEBHOOK_SYNC }, connectionId: 'hook-claim' });
    expect((await ferry.api.put('/providers/claimhook/webhook', { signature_header: 'x-hook-signature', secret: SECRET, connection_id_path: 'account' })).status).toBe(200);
    proxy.armed = true;
    const body = JSON.stringify({ delivery: 'd-1', account: 'hook-claim' });
    const ack = await fetch(`${ferry.url}/webhooks/dev/claimhook`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-hook-signature': createHmac('sha256', SECRET).update(body).digest('hex') },
    });
    expect(ack.status).toBe(202);
    await waitFor("the claim's COMMIT answer to be dropped", async () => (proxy.dropped === 1 ? true : undefined));

    const records = await waitFor('the delivery saved', async () => {
      const { records } = await readAll(ferry.api, 'hook-claim', 'Seen');
      return records.length > 0 ? records : undefined;
    }, 120_000);
    expect(records.map((r: { id: string }) => r.id)).toEqual(['d-1']);
    await waitFor('the delivery job settled', async () =>
      (await ferry.db.sql`select 1 from pgboss.job where name = ${WEBHOOK_QUEUE} and state = 'completed'`)[0]);
    await expectWorkedOnce(ferry.db, WEBHOOK_QUEUE);
  });
}, 180_000);
