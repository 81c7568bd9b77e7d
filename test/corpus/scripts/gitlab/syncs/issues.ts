import { createSync } from 'nango';
import { z } from 'zod';

// The same name as github/syncs/issues.ts: both are deployed and both run, each on its provider's connection.
const IssueSchema = z.object({
    id: z.string(),
    project_id: z.string(),
    title: z.string(),
    state: z.enum(['opened', 'closed']),
    labels: z.array(z.string()),
    updated_at: z.string()
});

export default createSync({
    description: 'Issues of the projects the user can see, newest change first',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/issues' }],
    models: { GitlabIssue: IssueSchema },

    exec: async (nango) => {
        // https://docs.gitlab.com/api/issues/#list-issues
        for await (const page of nango.paginate({
            endpoint: '/api/v4/issues',
            params: { scope: 'all', order_by: 'updated_at', sort: 'desc' },
            paginate: { type: 'offset', offset_name_in_request: 'page', offset_start_value: 1, offset_calculation_method: 'per-page', limit: 2, limit_name_in_request: 'per_page' }
        })) {
            const issues = z.array(z.object({ id: z.number(), project_id: z.number(), title: z.string(), state: IssueSchema.shape.state, labels: z.array(z.string()), updated_at: z.string() })).parse(page);
            await nango.batchSave(
                issues.map((issue) => ({ id: String(issue.id), project_id: String(issue.project_id), title: issue.title, state: issue.state, labels: issue.labels, updated_at: issue.updated_at })),
                'GitlabIssue'
            );
        }
    }
});
