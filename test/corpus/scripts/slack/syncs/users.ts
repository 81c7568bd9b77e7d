import { createSync } from 'nango';
import { z } from 'zod';

const SlackUserSchema = z.object({
    id: z.string(),
    name: z.string(),
    real_name: z.string().optional(),
    is_admin: z.boolean(),
    time_zone: z.string().optional()
});

const MemberSchema = z.object({
    id: z.string(),
    name: z.string(),
    deleted: z.boolean(),
    is_bot: z.boolean(),
    is_admin: z.boolean().optional(),
    real_name: z.string().optional(),
    tz: z.string().optional()
});

export default createSync({
    description: 'Workspace members (bots and deactivated members left out); users no longer listed are deleted',
    version: '1.0.0',
    frequency: 'every day',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/users' }],
    models: { SlackUser: SlackUserSchema },

    exec: async (nango) => {
        await nango.trackDeletesStart('SlackUser');
        let cursor: string | undefined;
        do {
            // https://api.slack.com/methods/users.list
            const response = await nango.get({ endpoint: '/users.list', params: { limit: 2, ...(cursor && { cursor }) } });
            const body = z.object({ ok: z.boolean(), members: z.array(MemberSchema), response_metadata: z.object({ next_cursor: z.string() }).optional() }).parse(response.data);
            const members = body.members.filter((member) => !member.deleted && !member.is_bot);
            await nango.batchSave(
                members.map((member) => ({
                    id: member.id,
                    name: member.name,
                    ...(member.real_name && { real_name: member.real_name }),
                    is_admin: member.is_admin ?? false,
                    ...(member.tz && { time_zone: member.tz })
                })),
                'SlackUser'
            );
            cursor = body.response_metadata?.next_cursor || undefined;
        } while (cursor);
        await nango.trackDeletesEnd('SlackUser');
    }
});
