import { createSync } from 'nango';
import { z } from 'zod';

const PullRequestSchema = z.object({
    id: z.string(),
    number: z.number(),
    title: z.string(),
    draft: z.boolean(),
    head_branch: z.string(),
    base_branch: z.string(),
    merged: z.boolean()
});

const ProviderPullSchema = z.object({
    id: z.number(),
    number: z.number(),
    title: z.string(),
    draft: z.boolean().optional(),
    head: z.object({ ref: z.string() }),
    base: z.object({ ref: z.string() }),
    merged_at: z.string().nullable()
});

export default createSync({
    description: 'Pull requests of one repository, the newest first',
    version: '1.0.0',
    frequency: 'every 30 minutes',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/pull-requests' }],
    metadata: z.object({ owner: z.string(), repo: z.string() }),
    models: { PullRequest: PullRequestSchema },

    exec: async (nango) => {
        const metadata = await nango.getMetadata();
        if (!metadata) {
            throw new Error('Set the repository in the connection metadata: { owner, repo }');
        }
        // https://docs.github.com/en/rest/pulls/pulls#list-pull-requests
        for await (const page of nango.paginate({
            endpoint: `/repos/${metadata.owner}/${metadata.repo}/pulls`,
            params: { state: 'all', sort: 'created', direction: 'desc' },
            paginate: { type: 'link', link_rel_in_response_header: 'next', limit: 2, limit_name_in_request: 'per_page' }
        })) {
            const pulls = z.array(ProviderPullSchema).parse(page);
            await nango.batchSave(
                pulls.map((pull) => ({
                    id: String(pull.id),
                    number: pull.number,
                    title: pull.title,
                    draft: pull.draft ?? false,
                    head_branch: pull.head.ref,
                    base_branch: pull.base.ref,
                    merged: pull.merged_at !== null
                })),
                'PullRequest'
            );
        }
    }
});
