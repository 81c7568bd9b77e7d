import { createSync } from 'nango';
import { z } from 'zod';

const UserSchema = z.object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    role: z.enum(['end-user', 'agent', 'admin']),
    active: z.boolean()
});

const PageSchema = z.object({
    users: z.array(z.object({ id: z.number(), name: z.string(), email: z.string(), role: z.enum(['end-user', 'agent', 'admin']), active: z.boolean() })),
    meta: z.object({ has_more: z.boolean(), after_cursor: z.string().nullable() })
});

export default createSync({
    description: 'Agents and admins, with cursor-based pagination (page[after])',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/users' }],
    models: { ZendeskUser: UserSchema },

    exec: async (nango) => {
        let after: string | null = null;
        do {
            // https://developer.zendesk.com/api-reference/introduction/pagination/#using-cursor-pagination
            const params: Record<string, string | number> = { 'page[size]': 2, 'role[]': 'agent' };
            if (after) {
                params['page[after]'] = after;
            }
            const response = await nango.get({ endpoint: '/api/v2/users', params });
            const page = PageSchema.parse(response.data);
            await nango.batchSave(
                page.users.map((user) => ({ id: String(user.id), name: user.name, email: user.email, role: user.role, active: user.active })),
                'ZendeskUser'
            );
            after = page.meta.has_more ? page.meta.after_cursor : null;
        } while (after);
    }
});
