import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    repository: z.string().regex(/^[^/]+\/[^/]+$/),
    issue_number: z.number().int(),
    labels: z.array(z.string()).min(1)
});

const OutputSchema = z.object({ labels: z.array(z.string()) });

export default createAction({
    description: 'Add labels to an issue and return every label it now has',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/issues/labels' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        // https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue
        const response = await nango.post({
            endpoint: `/repos/${input.repository}/issues/${input.issue_number}/labels`,
            data: { labels: input.labels }
        });
        const labels = z.array(z.object({ name: z.string() })).parse(response.data);
        return { labels: labels.map((label) => label.name).sort() };
    }
});
