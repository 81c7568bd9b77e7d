import { createSync } from 'nango';
import { z } from 'zod';

const ChannelSchema = z.object({
    id: z.string(),
    name: z.string(),
    is_private: z.boolean(),
    member_count: z.number(),
    topic: z.string()
});

const ProviderChannelSchema = z.object({
    id: z.string(),
    name: z.string(),
    is_private: z.boolean(),
    num_members: z.number(),
    topic: z.object({ value: z.string() })
});

export default createSync({
    description: 'Channels of the workspace; the metadata says whether private ones are included',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/channels' }],
    metadata: z.object({ include_private: z.boolean().optional() }),
    models: { SlackChannel: ChannelSchema },

    exec: async (nango) => {
        const metadata = await nango.getMetadata();
        const types = metadata?.include_private ? 'public_channel,private_channel' : 'public_channel';
        // https://api.slack.com/methods/conversations.list: response_metadata.next_cursor, from the provider's defaults.
        for await (const page of nango.paginate({
            endpoint: '/conversations.list',
            params: { types, exclude_archived: 'true' },
            paginate: { response_path: 'channels', limit: 2 }
        })) {
            const channels = z.array(ProviderChannelSchema).parse(page);
            await nango.batchSave(
                channels.map((channel) => ({
                    id: channel.id,
                    name: channel.name,
                    is_private: channel.is_private,
                    member_count: channel.num_members,
                    topic: channel.topic.value
                })),
                'SlackChannel'
            );
        }
    }
});
