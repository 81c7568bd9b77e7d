/**
 * The first example a newcomer copies, "The smallest useful sync" in docs/writing-syncs.md, runs
 * as written against the demo billing tool: read from the guide itself, deployed as
 * scripts/billing/syncs/invoices.ts, one run reads every invoice. (It once failed on its first
 * run: its offset paging named no request parameter.)
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { guideExample } from '../helpers/docs.ts';
import { deploySources, idForThisAttempt, startTestFerry, waitForRun, type TestFerry } from '../helpers/ferry.ts';

let provider: DemoProvider;
let ferry: TestFerry;
beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'billing-key', invoices: 230 });
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/billing', { base_url: provider.baseUrls.billing, auth: { type: 'bearer' } })).status).toBe(200);
  await deploySources(ferry, { 'billing/syncs/invoices.ts': await guideExample('writing-syncs.md', '## The smallest useful sync') });
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test("the guide's smallest sync reads every invoice of the demo billing tool, page after page", async () => {
  const connectionId = idForThisAttempt('guide-billing');
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'billing', credentials: { type: 'bearer', token: 'billing-key' } })).status).toBe(201);
  const run = await waitForRun(ferry.api, connectionId, 'invoices', '0', 60_000);
  expect(run).toMatchObject({ status: 'succeeded', error: null, counts: { added: 230, rejected: 0 } });
  expect(provider.requests.filter((r) => r.path === '/billing/v1/invoices').length).toBeGreaterThanOrEqual(3);
});
