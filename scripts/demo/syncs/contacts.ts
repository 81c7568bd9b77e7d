/**
 * Incremental contacts sync for the demo CRM: the first run (or a full run) reads every contact,
 * later runs ask only for contacts updated since the last successful run. One page is held in
 * memory at a time: each page is saved before the next is fetched.
 */
import { createSync } from 'ferry/sdk';
// A Nango script compiles unchanged: the bundler maps 'nango' to the same SDK.
// import { createSync } from 'nango';
import { ContactSchema, type Contact } from '../models.ts';

const PAGE_SIZE = 100;

interface ContactsPage {
  data: Contact[];
  next_cursor: string | null;
}

export default createSync({
  description: 'Contacts from the demo CRM, incrementally by updated_at',
  version: '1.0.0',
  frequency: 'every 1 minute',
  syncType: 'incremental',
  autoStart: true,
  endpoints: [{ method: 'GET', path: '/contacts', group: 'Contacts' }],
  models: { Contact: ContactSchema },
  exec: async (nango) => {
    const since = nango.lastSyncDate?.toISOString();
    await nango.log(since ? `Fetching contacts updated since ${since}` : 'Fetching all contacts');

    let cursor: string | null = null;
    let total = 0;
    let pages = 0;
    do {
      const params: Record<string, string | number> = { limit: PAGE_SIZE };
      if (since) params['updated_since'] = since;
      if (cursor) params['cursor'] = cursor;
      const response = await nango.get<ContactsPage>({ endpoint: '/v1/contacts', params, retries: 5 });
      const page = response.data;
      if (page.data.length > 0) await nango.batchSave(page.data, 'Contact');
      total += page.data.length;
      pages += 1;
      cursor = page.next_cursor;
      await nango.log(`Page ${pages}: ${page.data.length} contacts (${total} so far)`, { level: 'debug' });
    } while (cursor);

    await nango.log(`Saved ${total} contacts in ${pages} page(s)`);
  },
});
