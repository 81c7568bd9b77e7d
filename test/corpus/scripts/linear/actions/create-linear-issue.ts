import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    teamId: z.string(),
    title: z.string(),
    description: z.string().optional(),
    priority: z.number().int().min(0).max(4).optional()
});

const OutputSchema = z.object({
    id: z.string(),
    identifier: z.string(),
    url: z.string()
});

const ResponseSchema = z.object({
    data: z.object({
        issueCreate: z.object({
            success: z.boolean(),
            issue: z.object({ id: z.string(), identifier: z.string(), url: z.string() }).nullable()
        })
    }).nullable().optional(),
    errors: z.array(z.object({ message: z.string() })).optional()
});

export default createAction({
    description: 'Create a Linear issue',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/linear/issues' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        const response = await nango.post({
            endpoint: '/graphql',
            data: {
                query: 'mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier url } } }',
                variables: { input }
            }
        });
        const parsed = ResponseSchema.parse(response.data);
        const created = parsed.data?.issueCreate;
        if (parsed.errors?.length || !created?.success || !created.issue) {
            throw new nango.ActionError({ type: 'linear_error', message: parsed.errors?.map((e) => e.message).join('; ') ?? 'Linear did not create the issue' });
        }
        return created.issue;
    }
});
