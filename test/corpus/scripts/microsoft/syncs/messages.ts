import { createSync } from 'nango';
import { z } from 'zod';

const MessageSchema = z.object({
    id: z.string(),
    subject: z.string(),
    from: z.string().nullable(),
    received_at: z.string(),
    is_read: z.boolean()
});

const GraphMessageSchema = z.object({
    id: z.string(),
    subject: z.string().nullable(),
    receivedDateTime: z.string(),
    isRead: z.boolean(),
    from: z.object({ emailAddress: z.object({ address: z.string() }) }).nullable().optional()
});

export default createSync({
    description: 'Inbox messages from Microsoft Graph, following @odata.nextLink',
    version: '1.0.0',
    frequency: 'every 10 minutes',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/messages' }],
    models: { OutlookMessage: MessageSchema },

    exec: async (nango) => {
        // https://learn.microsoft.com/en-us/graph/paging
        for await (const page of nango.paginate({
            endpoint: '/v1.0/me/mailFolders/inbox/messages',
            params: { $select: 'id,subject,from,receivedDateTime,isRead' },
            paginate: { type: 'link', link_path_in_response_body: '@odata.nextLink', response_path: 'value', limit: 2, limit_name_in_request: '$top' }
        })) {
            const messages = z.array(GraphMessageSchema).parse(page);
            await nango.batchSave(
                messages.map((message) => ({
                    id: message.id,
                    subject: message.subject ?? '',
                    from: message.from?.emailAddress.address ?? null,
                    received_at: message.receivedDateTime,
                    is_read: message.isRead
                })),
                'OutlookMessage'
            );
        }
    }
});
