import { createSync } from 'nango';
import { z } from 'zod';

const TicketSchema = z.object({
    id: z.string(),
    subject: z.string(),
    status: z.string(),
    priority: z.string().nullable(),
    requester_id: z.string(),
    tags: z.array(z.string()),
    agent_url: z.string()
});

const ProviderTicketSchema = z.object({
    id: z.number(),
    subject: z.string(),
    status: z.string(),
    priority: z.string().nullable(),
    requester_id: z.number(),
    tags: z.array(z.string())
});

export default createSync({
    description: 'Tickets of the customer’s Zendesk; deleted tickets are removed',
    version: '1.0.0',
    frequency: 'every 10 minutes',
    autoStart: true,
    syncType: 'incremental',
    endpoints: [{ method: 'GET', path: '/tickets' }],
    models: { Ticket: TicketSchema },

    exec: async (nango) => {
        // The base URL is https://${connectionConfig.subdomain}.zendesk.com: one provider, every customer's host.
        const connection = await nango.getConnection();
        const subdomain = connection.connection_config['subdomain'];
        // https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets (next_page is an absolute URL)
        for await (const page of nango.paginate({
            endpoint: '/api/v2/tickets.json',
            paginate: { type: 'link', link_path_in_response_body: 'next_page', response_path: 'tickets', limit: 3, limit_name_in_request: 'per_page' }
        })) {
            const tickets = z.array(ProviderTicketSchema).parse(page);
            const deleted = tickets.filter((ticket) => ticket.status === 'deleted');
            const kept = tickets.filter((ticket) => ticket.status !== 'deleted');
            await nango.batchSave(
                kept.map((ticket) => ({
                    id: String(ticket.id),
                    subject: ticket.subject,
                    status: ticket.status,
                    priority: ticket.priority,
                    requester_id: String(ticket.requester_id),
                    tags: ticket.tags,
                    agent_url: `https://${String(subdomain)}.zendesk.com/agent/tickets/${ticket.id}`
                })),
                'Ticket'
            );
            if (deleted.length > 0) {
                await nango.batchDelete(deleted.map((ticket) => ({ id: String(ticket.id) })), 'Ticket');
            }
        }
    }
});
