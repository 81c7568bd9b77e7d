import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    project_key: z.string(),
    summary: z.string(),
    issue_type: z.string().default('Task'),
    description: z.string().optional()
});

const OutputSchema = z.object({ id: z.string(), key: z.string(), url: z.string() });

export default createAction({
    description: 'Create an issue; Jira’s field errors come back as an ActionError',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/issues' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        const { connection_config } = await nango.getConnection();
        const fields: Record<string, unknown> = { project: { key: input.project_key }, summary: input.summary, issuetype: { name: input.issue_type } };
        if (input.description) {
            fields['description'] = { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: input.description }] }] };
        }
        const response = await nango.post({ endpoint: `/ex/jira/${String(connection_config['cloudId'])}/rest/api/3/issue`, data: { fields }, retries: 0 });
        const created = z.object({ id: z.string(), key: z.string() }).safeParse(response.data);
        if (!created.success) {
            throw new nango.ActionError({ type: 'jira_rejected', message: 'Jira did not create the issue', details: response.data });
        }
        return { ...created.data, url: new URL(`/browse/${created.data.key}`, String(connection_config['baseUrl'])).toString() };
    }
});
