import { createSync } from 'nango';
import { z } from 'zod';

const ProjectSchema = z.object({
    id: z.string(),
    path: z.string(),
    visibility: z.enum(['private', 'internal', 'public']),
    default_branch: z.string().nullable(),
    star_count: z.number()
});

export default createSync({
    description: 'Projects the user is a member of, with page numbers (per-page offsets from 1)',
    version: '1.0.0',
    frequency: 'every day',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/projects' }],
    models: { GitlabProject: ProjectSchema },

    exec: async (nango) => {
        // https://docs.gitlab.com/api/projects/#list-all-projects
        for await (const page of nango.paginate({
            endpoint: '/api/v4/projects',
            params: { membership: 'true', order_by: 'id', sort: 'asc' },
            paginate: { type: 'offset', offset_name_in_request: 'page', offset_start_value: 1, offset_calculation_method: 'per-page', limit: 2, limit_name_in_request: 'per_page' }
        })) {
            const projects = z.array(z.object({ id: z.number(), path_with_namespace: z.string(), visibility: ProjectSchema.shape.visibility, default_branch: z.string().nullable(), star_count: z.number() })).parse(page);
            await nango.batchSave(
                projects.map((project) => ({ id: String(project.id), path: project.path_with_namespace, visibility: project.visibility, default_branch: project.default_branch, star_count: project.star_count })),
                'GitlabProject'
            );
        }
    }
});
