/**
 * The app's other events through a whole host: sync.failed once the retry policy gives up (not
 * on a failure it will retry), with the run error's code, and action.finished for async action
 * calls, success or failure — each signed in the Standard Webhooks format.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyWebhook } from '../../client/index.ts';
import { deploySources, startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { startTestProvider, type TestProvider } from '../proxy/provider-server.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

// Fails every run; one retry is allowed.
const FLAKY = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'always fails', frequency: 'every 1 hour', syncType: 'full', retries: 1,
  models: { Item: z.object({ id: z.string() }) },
  exec: async () => { throw new Error('the provider is having a bad day'); },
});`;

const ECHO = `
import { createAction, ActionError } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'echo, or refuse',
  input: z.object({ text: z.string() }),
  output: z.object({ text: z.string() }),
  exec: async (_nango, input) => {
    if (input.text === 'no') throw new ActionError({ type: 'refused' });
    return { text: input.text };
  },
});`;

let ferry: TestFerry;
let provider: TestProvider;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let secret: string;

beforeAll(async () => {
  provider = await startTestProvider();
  hooks = await startWebhookReceiver();
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '50', FERRY_WEBHOOK_RETRY_DELAY_S: '1' });
  expect((await ferry.api.put('/providers/eventful', { base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
  await deploySources(ferry, { 'eventful/syncs/flaky.ts': FLAKY, 'eventful/actions/echo.ts': ECHO });
  secret = (await ferry.api.put('/environment/settings', { webhook_url: hooks.url })).body.webhook_secret;
  expect((await ferry.api.post('/connections', { connection_id: 'ev-1', provider: 'eventful', credentials: { type: 'bearer', token: provider.bearer } })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await hooks?.close();
  await provider?.close();
});

describe('events for the app', () => {
  test('sync.failed is sent once, when the retry policy gives up, with the error code', async () => {
    const delivery = await waitFor('sync.failed', async () => hooks.deliveries.find((d) => d.body.includes('"sync.failed"')));
    const event = await verifyWebhook<any>(secret, delivery.headers as Record<string, string>, delivery.body);
    const runs = (await ferry.api.get('/runs?connection_id=ev-1&sync=flaky&limit=10')).body.runs;
    // The first failure was retried; the event names the second, after which no retry is left.
    expect(runs.map((r: any) => r.status)).toEqual(['failed', 'failed']);
    expect(event).toEqual({
      type: 'sync.failed', from: 'ferry', connection_id: 'ev-1', provider: 'eventful', sync_name: 'flaky', run_id: runs[0].id,
      error: { code: runs[0].error.code, message: expect.stringContaining('the provider is having a bad day') },
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(hooks.events('sync.failed')).toHaveLength(1);
  });

  test('action.finished follows an async call, for success and failure', async () => {
    const ok = await ferry.api.post('/actions/echo', { connection_id: 'ev-1', input: { text: 'hi' }, async: true });
    const refused = await ferry.api.post('/actions/echo', { connection_id: 'ev-1', input: { text: 'no' }, async: true });
    expect([ok.status, refused.status]).toEqual([202, 202]);
    const finished = await waitFor('two action.finished', async () => {
      const events = hooks.events('action.finished');
      return events.length >= 2 ? events : undefined;
    });
    const byId = Object.fromEntries(finished.map((e) => [e.id, e]));
    expect(byId[ok.body.id]).toEqual({ type: 'action.finished', from: 'ferry', connection_id: 'ev-1', provider: 'eventful', action_name: 'echo', id: ok.body.id, success: true });
    expect(byId[refused.body.id]).toMatchObject({ success: false, error: { code: expect.any(String) } });
    // The event comes with the outcome already stored.
    expect((await ferry.api.get(`/actions/jobs/${ok.body.id}`)).body).toMatchObject({ status: 'succeeded', output: { text: 'hi' } });
  });
});
