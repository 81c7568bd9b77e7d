import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    subject: z.string(),
    comment: z.string(),
    requester_email: z.string().email(),
    priority: z.enum(['low', 'normal', 'high', 'urgent']).default('normal')
});

const OutputSchema = z.object({ id: z.string(), status: z.string(), url: z.string() });

export default createAction({
    description: 'Open a ticket on behalf of a requester',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/tickets' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        const { connection_config } = await nango.getConnection();
        const response = await nango.post({
            endpoint: '/api/v2/tickets.json',
            data: { ticket: { subject: input.subject, comment: { body: input.comment }, requester: { email: input.requester_email }, priority: input.priority } }
        });
        const ticket = z.object({ ticket: z.object({ id: z.number(), status: z.string() }) }).parse(response.data).ticket;
        return { id: String(ticket.id), status: ticket.status, url: `https://${String(connection_config['subdomain'])}.zendesk.com/agent/tickets/${ticket.id}` };
    }
});
