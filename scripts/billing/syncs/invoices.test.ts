/**
 * The invoices sync (full refresh) in the real runtime: every page by offset against the live
 * demo billing tool, a deleted invoice absent from the next run, and a replay of recorded responses.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../../demo/index.ts';
import { createScriptTester, liveProxy, readFixture } from '../../../testing/index.ts';
import type { Invoice } from '../models.ts';

const SCRIPT = join(import.meta.dirname, 'invoices.ts');
const tester = createScriptTester();
let provider: DemoProvider;
afterAll(() => tester.close());

describe('invoices against the live demo billing tool', () => {
  beforeEach(async () => {
    provider = await startDemoProvider({ apiKey: 'billing-key', contacts: 1, invoices: 230, seed: 4 });
  });
  afterEach(() => provider.close());
  const live = () => liveProxy({ baseUrl: provider.baseUrls.billing, headers: { authorization: 'Bearer billing-key' } });

  it('reads every invoice by offset; after a hidden deletion the next full run no longer has it', async () => {
    const first = await tester.run({ script: SCRIPT, proxy: live() });
    expect(first.error).toBeUndefined();
    expect(first.records<Invoice>('Invoice')).toEqual(provider.billing.invoices());
    expect(first.requests.map((r) => r.params['offset'])).toEqual(['0', '100', '200']);

    const deleted = provider.billing.deleteInvoices(3);
    const second = await tester.run({ script: SCRIPT, proxy: live() });
    const ids = second.records<Invoice>('Invoice').map((i) => i.id);
    expect(ids).toHaveLength(227);
    for (const id of deleted) expect(ids).not.toContain(id);
  });
});

describe('invoices replayed from recorded responses', () => {
  it('saves every invoice the recording holds', async () => {
    const fixture = await readFixture(join(import.meta.dirname, '../fixtures/invoices.json'));
    const run = await tester.run({ script: SCRIPT, fixture });
    expect(run.error).toBeUndefined();
    const recorded = fixture.exchanges.flatMap((e) => (e.response.json as { invoices: Invoice[] }).invoices);
    expect(recorded.length).toBeGreaterThan(100);
    expect(run.records('Invoice')).toEqual(recorded);
  });
});
