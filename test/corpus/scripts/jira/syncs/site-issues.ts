import { createSync } from 'nango';
import { z } from 'zod';

const JiraIssueSchema = z.object({
    id: z.string(),
    key: z.string(),
    summary: z.string(),
    status: z.string(),
    issue_type: z.string(),
    project_key: z.string(),
    web_url: z.string()
});

const IssueSchema = z.object({
    id: z.string(),
    key: z.string(),
    fields: z.object({
        summary: z.string(),
        status: z.object({ name: z.string() }),
        issuetype: z.object({ name: z.string() }),
        project: z.object({ key: z.string() })
    })
});

export default createSync({
    description: 'Issues of the Jira site the connection belongs to (its cloud id is in the connection config)',
    version: '1.0.0',
    frequency: 'every 30 minutes',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/issues' }],
    models: { JiraIssue: JiraIssueSchema },

    exec: async (nango) => {
        const connection = await nango.getConnection();
        const cloudId = String(connection.connection_config['cloudId']);
        const siteUrl = String(connection.connection_config['baseUrl']);
        // https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-get
        for await (const page of nango.paginate({
            endpoint: `/ex/jira/${cloudId}/rest/api/3/search`,
            params: { jql: 'order by key asc', fields: 'summary,status,issuetype,project' },
            paginate: { type: 'offset', offset_name_in_request: 'startAt', response_path: 'issues', limit: 2, limit_name_in_request: 'maxResults' }
        })) {
            const issues = z.array(IssueSchema).parse(page);
            await nango.batchSave(
                issues.map((issue) => ({
                    id: issue.id,
                    key: issue.key,
                    summary: issue.fields.summary,
                    status: issue.fields.status.name,
                    issue_type: issue.fields.issuetype.name,
                    project_key: issue.fields.project.key,
                    web_url: new URL(`/browse/${issue.key}`, siteUrl).toString()
                })),
                'JiraIssue'
            );
        }
    }
});
