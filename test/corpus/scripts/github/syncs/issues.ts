import { createSync } from 'nango';
import { z } from 'zod';

const GithubIssueSchema = z.object({
    id: z.string(),
    number: z.number(),
    title: z.string(),
    state: z.enum(['open', 'closed']),
    repository: z.string(),
    author: z.string().optional(),
    labels: z.array(z.string()),
    updated_at: z.string()
});

const ProviderIssueSchema = z.object({
    id: z.number(),
    number: z.number(),
    title: z.string(),
    state: z.enum(['open', 'closed']),
    html_url: z.string(),
    user: z.object({ login: z.string() }).nullable().optional(),
    labels: z.array(z.object({ name: z.string() })),
    updated_at: z.string(),
    pull_request: z.unknown().optional()
});

const sync = createSync({
    description: 'Issues of the repositories listed in the connection metadata (pull requests left out)',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'incremental',
    endpoints: [{ method: 'GET', path: '/issues', group: 'Issues' }],
    metadata: z.object({ repositories: z.array(z.string()) }),
    models: { GithubIssue: GithubIssueSchema },

    exec: async (nango) => {
        const metadata = await nango.getMetadata();
        for (const repository of metadata?.repositories ?? []) {
            // https://docs.github.com/en/rest/issues/issues#list-repository-issues
            // The provider's pagination defaults (the Link header's rel="next") walk the pages.
            for await (const page of nango.paginate({
                endpoint: `/repos/${repository}/issues`,
                params: { state: 'all', ...(nango.lastSyncDate && { since: nango.lastSyncDate.toISOString() }) },
                retries: 3
            })) {
                const issues = z.array(ProviderIssueSchema).parse(page).filter((issue) => issue.pull_request === undefined);
                await nango.batchSave(
                    issues.map((issue) => ({
                        id: String(issue.id),
                        number: issue.number,
                        title: issue.title,
                        state: issue.state,
                        repository: new URL(issue.html_url).pathname.split('/').slice(1, 3).join('/'),
                        ...(issue.user && { author: issue.user.login }),
                        labels: issue.labels.map((label) => label.name),
                        updated_at: issue.updated_at
                    })),
                    'GithubIssue'
                );
            }
        }
    }
});

export default sync;
