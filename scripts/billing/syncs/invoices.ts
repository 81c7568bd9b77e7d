/**
 * Invoices from the demo billing tool, as a full refresh with deletions.
 *
 * The billing API has no "changed since" filter and a deleted invoice simply disappears from the
 * listing, so each run reads every invoice (offset paging, one page saved at a time) and
 * `trackDeletes` lets Ferry mark the invoices this run did not see as deleted — only when the
 * run succeeds, so a failed run never deletes anything.
 */
import { createSync } from 'ferry/sdk';
import { InvoiceSchema, type InvoicesPage } from '../models.ts';

const LIMIT = 100;

export default createSync({
  description: 'Invoices from the demo billing tool: full refresh, deletions detected',
  version: '1.0.0',
  frequency: 'every hour',
  syncType: 'full',
  trackDeletes: true,
  endpoints: [{ method: 'GET', path: '/invoices', group: 'Billing' }],
  models: { Invoice: InvoiceSchema },

  exec: async (nango) => {
    let offset = 0;
    let total = 0;
    do {
      const { data } = await nango.get<InvoicesPage>({ endpoint: '/v1/invoices', params: { offset, limit: LIMIT }, retries: 5 });
      if (data.invoices.length === 0) break;
      await nango.batchSave(data.invoices, 'Invoice');
      offset += data.invoices.length;
      total = data.total;
    } while (offset < total);
    nango.log(`Read ${offset} invoice(s)`);
  },
});
