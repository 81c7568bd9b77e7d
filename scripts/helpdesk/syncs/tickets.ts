/**
 * Helpdesk tickets, incrementally, resumable, and kept fresh by webhooks.
 *
 * - Incremental: after the first run, only tickets updated since the last successful run.
 * - Checkpoints: after each page the script saves where it is; a run that dies half-way (deploy,
 *   memory limit, provider outage) resumes from that page instead of starting over.
 * - Webhooks: the helpdesk POSTs `ticket.created` / `ticket.updated`; each one saves that ticket
 *   at once, so apps see a change in seconds while the schedule catches anything missed.
 */
import { createSync } from 'ferry/sdk';
import { TicketEventSchema, TicketSchema, type TicketsPage } from '../models.ts';

const PER_PAGE = 50;

interface Checkpoint {
  /** The window this run reads (fixed at its start, so a resumed run reads the same window). */
  updated_after: string | null;
  page_token: string | null;
  [key: string]: string | null;
}

export default createSync({
  description: 'Tickets from the demo helpdesk: incremental with checkpoints, updated by webhooks',
  version: '1.0.0',
  frequency: 'every 5 minutes',
  syncType: 'incremental',
  endpoints: [{ method: 'GET', path: '/tickets', group: 'Tickets' }],
  models: { Ticket: TicketSchema },
  webhookSubscriptions: ['ticket.created', 'ticket.updated'],

  exec: async (nango) => {
    // The host hands a checkpoint only to a run that should resume (never to a requested full run).
    const resumed = await nango.getCheckpoint<Checkpoint>();
    const updatedAfter = resumed ? resumed.updated_after : (nango.lastSyncDate?.toISOString() ?? null);
    let pageToken = resumed?.page_token ?? null;
    nango.log(resumed ? `Resuming at a saved page (updated after ${updatedAfter ?? 'the beginning'})` : `Reading tickets updated after ${updatedAfter ?? 'the beginning'}`);

    let saved = 0;
    do {
      const params: Record<string, string | number> = { per_page: PER_PAGE };
      if (updatedAfter) params['updated_after'] = updatedAfter;
      if (pageToken) params['page_token'] = pageToken;
      const { data } = await nango.get<TicketsPage>({ endpoint: '/api/v2/tickets', params, retries: 5 });
      if (data.tickets.length > 0) await nango.batchSave(data.tickets, 'Ticket');
      saved += data.tickets.length;
      pageToken = data.next_page_token;
      // Saved only after the page's records: a resumed run never skips a page it did not save.
      if (pageToken) await nango.saveCheckpoint({ updated_after: updatedAfter, page_token: pageToken });
    } while (pageToken);

    await nango.clearCheckpoint();
    nango.log(`Saved ${saved} ticket(s)`);
  },

  onWebhook: async (nango, payload) => {
    const event = TicketEventSchema.safeParse(payload);
    if (!event.success) {
      nango.log(`Ignoring a webhook that is not a ticket event: ${event.error.issues[0]?.message ?? 'invalid'}`, { level: 'warn' });
      return;
    }
    await nango.batchSave([event.data.ticket], 'Ticket');
    nango.log(`${event.data.type}: ${event.data.ticket.id} is ${event.data.ticket.status}`);
  },
});
