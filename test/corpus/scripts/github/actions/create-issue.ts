import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    owner: z.string(),
    repo: z.string(),
    title: z.string().min(1),
    body: z.string().optional(),
    labels: z.array(z.string()).optional()
});

const OutputSchema = z.object({
    id: z.string(),
    number: z.number(),
    url: z.string()
});

export default createAction({
    description: 'Open an issue in a repository',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/issues', group: 'Issues' },
    input: InputSchema,
    output: OutputSchema,
    scopes: ['repo'],

    exec: async (nango, input) => {
        const parsed = await nango.zodValidateInput({ zodSchema: InputSchema, input });
        const { owner, repo, ...issue } = parsed.data;
        // https://docs.github.com/en/rest/issues/issues#create-an-issue
        const response = await nango.post({ endpoint: `/repos/${owner}/${repo}/issues`, data: issue, retries: 0 });
        const created = z.object({ id: z.number(), number: z.number(), html_url: z.string() }).safeParse(response.data);
        if (!created.success) {
            throw new nango.ActionError({ type: 'unexpected_response', message: 'GitHub answered without an issue' });
        }
        return { id: String(created.data.id), number: created.data.number, url: created.data.html_url };
    }
});
