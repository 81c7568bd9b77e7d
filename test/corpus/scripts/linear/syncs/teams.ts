import { createSync } from 'nango';
import { z } from 'zod';

const TeamSchema = z.object({
    id: z.string(),
    key: z.string(),
    name: z.string(),
    members: z.number()
});

const ResponseSchema = z.object({
    data: z.object({
        teams: z.object({
            nodes: z.array(z.object({ id: z.string(), key: z.string(), name: z.string(), members: z.object({ nodes: z.array(z.object({ id: z.string() })) }) })),
            pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() })
        })
    })
});

export default createSync({
    description: 'Teams with their member counts, page by page with an explicit loop',
    version: '1.0.0',
    frequency: 'every day',
    autoStart: true,
    syncType: 'full',
    trackDeletes: true,
    endpoints: [{ method: 'GET', path: '/teams' }],
    checkpoint: z.object({ cursor: z.string() }),
    models: { Team: TeamSchema },

    exec: async (nango) => {
        let cursor = (await nango.getCheckpoint())?.cursor ?? null;
        let hasNextPage = true;
        while (hasNextPage) {
            const response = await nango.post({
                endpoint: '/graphql',
                data: {
                    query: 'query Teams($after: String) { teams(first: 2, after: $after) { nodes { id key name members { nodes { id } } } pageInfo { hasNextPage endCursor } } }',
                    variables: { after: cursor }
                }
            });
            const { nodes, pageInfo } = ResponseSchema.parse(response.data).data.teams;
            await nango.batchSave(
                nodes.map((team) => ({ id: team.id, key: team.key, name: team.name, members: team.members.nodes.length })),
                'Team'
            );
            hasNextPage = pageInfo.hasNextPage && pageInfo.endCursor !== null;
            cursor = pageInfo.endCursor;
            if (hasNextPage && cursor) {
                await nango.saveCheckpoint({ cursor });
            }
        }
        await nango.clearCheckpoint();
    }
});
