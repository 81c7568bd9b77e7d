import { createSync } from 'nango';
import { z } from 'zod';

const TaskSchema = z.object({
    id: z.string(),
    name: z.string(),
    completed: z.boolean(),
    assignee: z.string().nullable(),
    due_on: z.string().nullable(),
    project_id: z.string()
});

const ProviderTaskSchema = z.object({
    gid: z.string(),
    name: z.string(),
    completed: z.boolean(),
    assignee: z.object({ gid: z.string() }).nullable(),
    due_on: z.string().nullable()
});

export default createSync({
    description: 'Tasks of the projects named in the connection metadata',
    version: '1.0.0',
    frequency: 'every 30 minutes',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/tasks' }],
    metadata: z.object({ project_ids: z.array(z.string()) }),
    models: { AsanaTask: TaskSchema },

    exec: async (nango) => {
        const metadata = await nango.getMetadata();
        for (const projectId of metadata?.project_ids ?? []) {
            // https://developers.asana.com/reference/gettasksforproject: next_page.offset
            for await (const page of nango.paginate({
                endpoint: `/api/1.0/projects/${projectId}/tasks`,
                params: { opt_fields: 'name,completed,assignee,due_on' },
                paginate: { type: 'cursor', cursor_path_in_response: 'next_page.offset', cursor_name_in_request: 'offset', response_path: 'data', limit: 2, limit_name_in_request: 'limit' }
            })) {
                const tasks = z.array(ProviderTaskSchema).parse(page);
                await nango.batchSave(
                    tasks.map((task) => ({ id: task.gid, name: task.name, completed: task.completed, assignee: task.assignee?.gid ?? null, due_on: task.due_on, project_id: projectId })),
                    'AsanaTask'
                );
            }
        }
    }
});
