/**
 * The sync engine through a whole host (API, scheduler, pg-boss, runtime) on real Postgres,
 * against a real provider server: strategies, checkpoints and resume, delete detection, retries,
 * stuck detection, partial success, schedules and the app's signed webhook.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { verifyWebhook } from '../../client/index.ts';
import { verifySignature } from '../../host/webhooks-out/signature.ts';
import { readAll, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

let ferry: TestFerry;
let provider: ItemsProvider;

beforeAll(async () => {
  provider = await startItemsProvider(12);
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '300', FERRY_WEBHOOK_RETRY_DELAY_S: '1' });
  await deployScripts({ dir: FIXTURES, url: ferry.url, key: TEST_SECRET_KEY });
  for (const name of ['fullp', 'incp', 'backp', 'trackp', 'errp']) {
    const put = await ferry.api.put(`/providers/${name}`, { base_url: provider.url, auth: { type: 'none' } });
    expect(put.status).toBe(200);
  }
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

async function connect(connectionId: string, providerName: string) {
  const created = await ferry.api.post('/connections', { connection_id: connectionId, provider: providerName });
  expect(created.status).toBe(201);
}
const status = async (sync: string, connectionId: string) => (await ferry.api.get(`/syncs/${sync}/status?connection_id=${connectionId}`)).body;
const trigger = (sync: string, connectionId: string, full = false) => ferry.api.post(`/syncs/${sync}/trigger`, { connection_id: connectionId, full });
const byId = (records: any[]) => new Map(records.map((r) => [r.id, r]));

describe('full refresh', () => {
  test('the first run starts when the connection is created; records missing from a later full refresh are deleted, and come back as updates', async () => {
    await connect('full-1', 'fullp');
    const first = await waitForRun(ferry.api, 'full-1', 'people');
    expect(first).toMatchObject({ status: 'succeeded', full: true, counts: { added: 12, deleted: 0 } });

    const gone = ['003', '011'];
    const saved = gone.map((id) => provider.items.get(id)!);
    for (const id of gone) provider.items.delete(id);
    await trigger('people', 'full-1');
    const second = await waitForRun(ferry.api, 'full-1', 'people', first.id);
    expect(second).toMatchObject({ status: 'succeeded', counts: { added: 0, deleted: 2, unchanged: 10 } });
    const records = byId((await readAll(ferry.api, 'full-1', 'Item')).records);
    for (const id of gone) expect(records.get(id)._ferry_metadata).toMatchObject({ last_action: 'deleted' });
    expect(records.get('004')._ferry_metadata).toMatchObject({ last_action: 'added', deleted_at: null });

    for (const item of saved) provider.items.set(item.id, item);
    await trigger('people', 'full-1');
    const third = await waitForRun(ferry.api, 'full-1', 'people', second.id);
    expect(third).toMatchObject({ status: 'succeeded', counts: { added: 0, updated: 2, deleted: 0 } });
    const restored = byId((await readAll(ferry.api, 'full-1', 'Item')).records);
    for (const id of gone) expect(restored.get(id)._ferry_metadata).toMatchObject({ last_action: 'updated', deleted_at: null });
  });

  test('a failed full refresh deletes nothing; the retry resumes from the checkpoint and then deletes what the whole pass did not see', async () => {
    await connect('full-2', 'fullp');
    const first = await waitForRun(ferry.api, 'full-2', 'people');
    expect(first.status).toBe('succeeded');

    provider.items.delete('012');
    let failures = 1;
    provider.failPage = (after) => after === '010' && failures-- > 0; // the 3rd page fails once
    const requestsBefore = provider.requests.length;
    await trigger('people', 'full-2');
    const failed = await waitForRun(ferry.api, 'full-2', 'people', first.id);
    expect(failed).toMatchObject({ status: 'failed', counts: { deleted: 0 } });
    expect(failed.error.message).toContain('400');

    // The retry (backoff from 300 ms) resumes at the checkpoint: its first request asks for the 3rd page.
    const retried = await waitForRun(ferry.api, 'full-2', 'people', failed.id);
    provider.failPage = () => false;
    expect(retried).toMatchObject({ status: 'succeeded', counts: { deleted: 1 } });
    const retryRequests = provider.requests.slice(requestsBefore).filter((r) => r.path === '/items');
    expect(retryRequests.map((r) => r.query.after)).toEqual(['', '005', '010', '010']);
    const records = byId((await readAll(ferry.api, 'full-2', 'Item')).records);
    expect(records.get('012')._ferry_metadata.last_action).toBe('deleted');
    expect([...records.values()].filter((r) => r._ferry_metadata.deleted_at === null)).toHaveLength(11);
    expect((await status('people', 'full-2')).checkpoint).toBeNull();
    provider.put('012');
  });

  test('a sync whose checkpoint does not move over several runs is reported as stuck', async () => {
    await connect('full-3', 'fullp');
    const first = await waitForRun(ferry.api, 'full-3', 'people');
    provider.failPage = (after) => after === '005';
    await trigger('people', 'full-3');
    // The failed run and its 3 retries (300, 600, 1200 ms + jitter); the retries all resume at '005'.
    const s = await waitFor('stuck status', async () => {
      const body = await status('people', 'full-3');
      // Stuck shows while a retry still runs (state 'running'); wait for the retries to give up.
      return body.stuck && body.state !== 'running' ? body : undefined;
    }, 60_000);
    provider.failPage = () => false;
    expect(s).toMatchObject({ state: 'stuck', stuck: true, checkpoint: { after: '005' } });
    expect(s.last_run.status).toBe('failed');
    expect(s.success_rate).toBeLessThan(1);
    expect(first.status).toBe('succeeded');
  });
});

describe('incremental', () => {
  test('first run full, then since lastSyncDate; a full refresh after every 2 incrementals catches deletes', async () => {
    await connect('inc-1', 'incp');
    const sinceOf = (from: number) => provider.requests.slice(from).filter((r) => r.path === '/items').map((r) => r.query.since);
    let mark = provider.requests.length;
    const run1 = await waitForRun(ferry.api, 'inc-1', 'events');
    expect(run1).toMatchObject({ status: 'succeeded', full: true });
    provider.items.delete('001');

    const runs = [run1];
    for (let i = 0; i < 3; i++) {
      mark = provider.requests.length;
      await trigger('events', 'inc-1');
      const run = await waitForRun(ferry.api, 'inc-1', 'events', runs.at(-1)!.id);
      expect(run.status).toBe('succeeded');
      runs.push(run);
      if (i < 2) {
        expect(run).toMatchObject({ full: false, counts: { deleted: 0 } });
        expect(new Date(sinceOf(mark)[0]!).toISOString()).toBe(new Date(runs.at(-2)!.started_at).toISOString());
      } else {
        expect(run).toMatchObject({ full: true, counts: { deleted: 1 } });
        expect(sinceOf(mark)).toEqual(['']);
      }
    }
    provider.put('001');
  });

  test('a backfill window limits how far back the first run reads', async () => {
    await connect('back-1', 'backp');
    const mark = provider.requests.length;
    const run = await waitForRun(ferry.api, 'back-1', 'recent');
    expect(run).toMatchObject({ status: 'succeeded', full: true });
    const since = Date.parse(provider.requests.slice(mark).find((r) => r.path === '/items')!.query.since!);
    const expected = Date.parse(run.started_at) - 30 * 86_400_000;
    expect(Math.abs(since - expected)).toBeLessThan(60_000);
  });

  test('"full run" ignores lastSyncDate', async () => {
    const before = (await ferry.api.get('/runs?connection_id=back-1&sync=recent&limit=1')).body.runs[0];
    const mark = provider.requests.length;
    expect((await trigger('recent', 'back-1', true)).body).toMatchObject({ full: true });
    const run = await waitForRun(ferry.api, 'back-1', 'recent', before.id);
    expect(run).toMatchObject({ status: 'succeeded', full: true, trigger: 'full' });
    const since = Date.parse(provider.requests.slice(mark).find((r) => r.path === '/items')!.query.since!);
    expect(since).toBeLessThan(Date.parse(before.started_at) - 86_400_000);
  });
});

describe('trackDeletesStart/End', () => {
  test('records not saved between start and end are deleted at end, in an incremental run', async () => {
    await connect('track-1', 'trackp');
    const first = await waitForRun(ferry.api, 'track-1', 'tracked');
    expect(first).toMatchObject({ status: 'succeeded', counts: { added: 12 } });
    provider.items.delete('006');
    await trigger('tracked', 'track-1');
    const second = await waitForRun(ferry.api, 'track-1', 'tracked', first.id);
    expect(second).toMatchObject({ status: 'succeeded', full: false, counts: { deleted: 1 } });
    const records = byId((await readAll(ferry.api, 'track-1', 'Item')).records);
    expect(records.get('006')._ferry_metadata.last_action).toBe('deleted');
    expect(records.get('007')._ferry_metadata.deleted_at).toBeNull();
    provider.put('006');
  });
});

describe('failures and retries', () => {
  test('partial success: the good record stays, the bad one is rejected with its reason; the retry kind follows the error', async () => {
    provider.mode = 'nonretryable';
    await connect('err-1', 'errp');
    const run = await waitForRun(ferry.api, 'err-1', 'moody');
    expect(run).toMatchObject({ status: 'failed', counts: { added: 1, rejected: 1 }, error: { code: 'NON_RETRYABLE' } });
    const records = (await readAll(ferry.api, 'err-1', 'Item')).records;
    expect(records.map((r) => r.id)).toEqual(['good']);
    let s = await status('moody', 'err-1');
    expect(s).toMatchObject({ retry_attempt: 0, consecutive_failures: 1, last_sync_date: null });
    expect(Date.parse(s.next_run_at) - Date.now()).toBeGreaterThan(50 * 60_000); // the next scheduled run, no retry

    provider.mode = 'retryafter';
    await trigger('moody', 'err-1');
    const run2 = await waitForRun(ferry.api, 'err-1', 'moody', run.id);
    expect(run2.error).toMatchObject({ code: 'RETRY_AFTER', retryAfterMs: 600_000 });
    s = await status('moody', 'err-1');
    expect(Date.parse(s.next_run_at) - Date.now()).toBeGreaterThan(500_000);
    expect(Date.parse(s.next_run_at) - Date.now()).toBeLessThan(601_000);

    provider.mode = 'ok';
    await trigger('moody', 'err-1');
    const run3 = await waitForRun(ferry.api, 'err-1', 'moody', run2.id);
    expect(run3).toMatchObject({ status: 'succeeded', counts: { rejected: 1 } });
    s = await status('moody', 'err-1');
    // Rejected in each of the last 3 runs: reported, not silently failing every run.
    expect(s.persistent_rejections).toEqual([expect.objectContaining({ model: 'Item', record_id: 'bad' })]);
    expect(s).toMatchObject({ consecutive_failures: 0, runs_in_window: 3 });
    expect(s.success_rate).toBeCloseTo(1 / 3);
  });
});

describe('schedules', () => {
  test('per-connection override (cron with a time zone), pause per sync and per connection', async () => {
    const bad = await ferry.api.put('/syncs/people/schedule', { connection_id: 'full-1', frequency: 'every fortnight-ish' });
    expect(bad.status).toBe(400);
    const set = await ferry.api.put('/syncs/people/schedule', { connection_id: 'full-1', frequency: 'CRON_TZ=Asia/Kolkata 30 3 * * *' });
    expect(set.status).toBe(200);
    const next = new Date(set.body.next_run_at);
    // 03:30 in Kolkata is 22:00 UTC.
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([22, 0]);
    let s = await status('people', 'full-1');
    expect(s).toMatchObject({ schedule: 'every 1 hour', schedule_override: 'CRON_TZ=Asia/Kolkata 30 3 * * *', frequency_ms: 86_400_000 });

    expect((await ferry.api.post('/connections/full-1/syncs/pause')).body).toEqual({ connection_id: 'full-1', paused: true });
    s = await status('people', 'full-1');
    expect(s).toMatchObject({ connection_paused: true, paused: false, state: 'paused' });
    await ferry.api.post('/connections/full-1/syncs/resume');
    expect((await ferry.api.post('/syncs/people/pause', { connection_id: 'full-1' })).body.paused).toBe(true);
    expect((await status('people', 'full-1')).state).toBe('paused');
    await ferry.api.post('/syncs/people/resume', { connection_id: 'full-1' });
  });
});

describe('webhooks to the app', () => {
  test('a run that changed records POSTs a signed webhook with counts and the cursor to read from; a failed delivery is retried', async () => {
    const received: Array<{ body: string; signature: string; headers: Record<string, string | string[] | undefined> }> = [];
    let failFirst = true;
    const app: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ body, signature: String(req.headers['x-ferry-signature']), headers: req.headers });
        res.writeHead(failFirst ? 500 : 200).end();
        failFirst = false;
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    try {
      await connect('hook-1', 'trackp');
      const firstRun = await waitForRun(ferry.api, 'hook-1', 'tracked');
      expect(firstRun.status).toBe('succeeded');
      const settings = await ferry.api.put('/environment/settings', { webhook_url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/hook` });
      expect(settings.status).toBe(200);
      const secret: string = settings.body.webhook_secret;
      expect(secret).toMatch(/^whsec_/);
      expect((await ferry.api.get('/environment/settings')).body).toEqual({ webhook_url: expect.any(String), webhook_secret_set: true, max_concurrent_runs: null, limit_caps: { memoryMb: 1024, wallTimeMs: 3600_000, cpuTimeMs: 3600_000 } });

      const before = await readAll(ferry.api, 'hook-1', 'Item');
      provider.put('002', 'renamed');
      await trigger('tracked', 'hook-1');
      const run = await waitForRun(ferry.api, 'hook-1', 'tracked', firstRun.id);
      expect(run).toMatchObject({ status: 'succeeded', counts: { updated: 1 } });

      await waitFor('a retried delivery', async () => (received.length >= 2 ? true : undefined), 90_000);
      const [firstTry, secondTry] = received;
      expect(secondTry!.body).toBe(firstTry!.body);
      expect(verifySignature(secret, secondTry!.body, secondTry!.signature)).toBe(true);
      expect(verifySignature('whsec_other', secondTry!.body, secondTry!.signature)).toBe(false);
      // Standard Webhooks headers: one message id across retries, verified by the client's verifier.
      expect(secondTry!.headers['webhook-id']).toBe(firstTry!.headers['webhook-id']);
      expect(await verifyWebhook(secret, secondTry!.headers, secondTry!.body)).toMatchObject({ type: 'sync', connection_id: 'hook-1' });
      const payload = JSON.parse(secondTry!.body);
      expect(payload).toMatchObject({
        type: 'sync', connection_id: 'hook-1', sync_name: 'tracked', model: 'Item', run_id: run.id,
        counts: { added: 0, updated: 1, deleted: 0 }, cursor: before.cursor,
      });
      const delta = await readAll(ferry.api, 'hook-1', 'Item', payload.cursor);
      expect(delta.records.map((r) => r.id)).toContain('002');
      const delivery = await waitFor('the delivery row', async () => {
        const [row] = await ferry.db.sql`select status, attempts, last_status from webhook_deliveries where run_id = ${run.id}`;
        return row?.status === 'delivered' ? row : undefined;
      });
      expect(delivery).toMatchObject({ attempts: 2, last_status: 200 });
    } finally {
      await ferry.api.put('/environment/settings', { webhook_url: null });
      await new Promise((r) => app.close(r));
    }
  });
});
