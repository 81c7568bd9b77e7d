import { createSync } from 'nango';
import { z } from 'zod';

const ConversationSchema = z.object({
    id: z.string(),
    title: z.string().nullable(),
    state: z.enum(['open', 'closed', 'snoozed']),
    admin_assignee_id: z.string().nullable(),
    updated_at: z.string()
});

export default createSync({
    description: 'Open conversations from the search API: the cursor sits at pagination.starting_after in the body',
    version: '1.0.0',
    frequency: 'every 15 minutes',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/conversations' }],
    models: { IntercomConversation: ConversationSchema },

    exec: async (nango) => {
        // https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/searchconversations
        for await (const page of nango.paginate({
            method: 'POST',
            endpoint: '/conversations/search',
            headers: { 'Intercom-Version': '2.11' },
            data: { query: { field: 'open', operator: '=', value: true } },
            paginate: {
                type: 'cursor',
                cursor_path_in_response: 'pages.next.starting_after',
                cursor_name_in_request: 'pagination.starting_after',
                response_path: 'conversations',
                limit: 2,
                limit_name_in_request: 'pagination.per_page'
            }
        })) {
            const conversations = z.array(z.object({ id: z.string(), title: z.string().nullable(), state: ConversationSchema.shape.state, admin_assignee_id: z.number().nullable(), updated_at: z.number() })).parse(page);
            await nango.batchSave(
                conversations.map((c) => ({
                    id: c.id,
                    title: c.title,
                    state: c.state,
                    admin_assignee_id: c.admin_assignee_id === null ? null : String(c.admin_assignee_id),
                    updated_at: new Date(c.updated_at * 1000).toISOString()
                })),
                'IntercomConversation'
            );
        }
    }
});
