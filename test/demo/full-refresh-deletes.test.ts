/**
 * A full refresh with deletions end to end: the billing API hides deletions (an invoice just
 * disappears), the invoices sync (syncType full, trackDeletes) reads everything each run, and
 * a reader keeping its cursor sees exactly the vanished invoices as deleted.
 */
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';
import { readAll, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  [ferry, provider] = await Promise.all([startTestFerry(), startDemoProvider({ apiKey: 'bk', contacts: 1, invoices: 140 })]);
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

it('marks the invoices a full run no longer sees as deleted, and only those', async () => {
  await ferry.api.put('/providers/billing', { base_url: provider.baseUrls.billing, auth: { type: 'bearer' } });
  await deployScripts({ dir: join(REPO, 'scripts'), url: ferry.url, key: TEST_SECRET_KEY });
  await ferry.api.post('/connections', { connection_id: 'billing-1', provider: 'billing', credentials: { type: 'bearer', token: 'bk' } });
  const first = await waitForRun(ferry.api, 'billing-1', 'invoices', '0', 60_000);
  expect(first).toMatchObject({ status: 'succeeded', counts: { added: 140 } });
  const { cursor } = await readAll(ferry.api, 'billing-1', 'Invoice');

  const deleted = provider.billing.deleteInvoices(4);
  const paid = provider.billing.payInvoices(1);
  const queued = await ferry.api.post('/syncs/invoices/trigger', { connection_id: 'billing-1' });
  expect(queued.status).toBe(202);
  const second = await waitForRun(ferry.api, 'billing-1', 'invoices', first.id, 60_000);
  expect(second).toMatchObject({ status: 'succeeded', counts: { deleted: 4 } });

  const { records } = await readAll(ferry.api, 'billing-1', 'Invoice', cursor);
  const byAction = (action: string) => records.filter((r) => r._ferry_metadata.last_action === action).map((r) => r.id).sort();
  expect(byAction('deleted')).toEqual([...deleted].sort());
  expect(byAction('updated')).toEqual([...paid].sort());
}, 180_000);
