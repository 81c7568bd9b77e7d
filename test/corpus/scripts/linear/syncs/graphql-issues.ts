import { createSync } from 'nango';
import { z } from 'zod';

const LinearIssueSchema = z.object({
    id: z.string(),
    identifier: z.string(),
    title: z.string(),
    state: z.string(),
    assignee_email: z.string().optional(),
    priority: z.number(),
    updated_at: z.string()
});

const CheckpointSchema = z.object({ after: z.string() });

const NodeSchema = z.object({
    id: z.string(),
    identifier: z.string(),
    title: z.string(),
    priority: z.number(),
    updatedAt: z.string(),
    state: z.object({ name: z.string() }),
    assignee: z.object({ email: z.string() }).nullable()
});

const query = `
    query Issues($first: Int, $after: String) {
        issues(first: $first, after: $after, orderBy: updatedAt) {
            nodes { id identifier title priority updatedAt state { name } assignee { email } }
            pageInfo { hasNextPage endCursor }
        }
    }
`;

export default createSync({
    description: 'Linear issues over GraphQL, resumable from the last page handled',
    version: '1.0.0',
    frequency: 'every 15 minutes',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/linear/issues' }],
    checkpoint: CheckpointSchema,
    models: { LinearIssue: LinearIssueSchema },

    exec: async (nango) => {
        const checkpoint = await nango.getCheckpoint();
        // https://linear.app/developers/pagination: the cursor travels in the GraphQL variables.
        for await (const page of nango.paginate({
            method: 'POST',
            endpoint: '/graphql',
            data: { query, variables: { ...(checkpoint && { after: checkpoint.after }) } },
            paginate: {
                type: 'cursor',
                cursor_name_in_request: 'variables.after',
                cursor_path_in_response: 'data.issues.pageInfo.endCursor',
                response_path: 'data.issues.nodes',
                limit_name_in_request: 'variables.first',
                limit: 2,
                on_page: async ({ nextPageParam }) => {
                    if (typeof nextPageParam === 'string') {
                        await nango.saveCheckpoint({ after: nextPageParam });
                    }
                }
            }
        })) {
            const nodes = z.array(NodeSchema).parse(page);
            await nango.batchSave(
                nodes.map((node) => ({
                    id: node.id,
                    identifier: node.identifier,
                    title: node.title,
                    state: node.state.name,
                    ...(node.assignee && { assignee_email: node.assignee.email }),
                    priority: node.priority,
                    updated_at: node.updatedAt
                })),
                'LinearIssue'
            );
        }
        await nango.clearCheckpoint();
    }
});
