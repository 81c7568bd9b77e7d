import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    database_id: z.string(),
    title: z.string(),
    status: z.string().optional()
});

const OutputSchema = z.object({ id: z.string(), url: z.string() });

export default createAction({
    description: 'Add a page to a database',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/pages' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        const properties: Record<string, unknown> = { Name: { title: [{ text: { content: input.title } }] } };
        if (input.status) {
            properties['Status'] = { status: { name: input.status } };
        }
        const response = await nango.post({
            endpoint: '/v1/pages',
            headers: { 'Notion-Version': '2022-06-28' },
            data: { parent: { database_id: input.database_id }, properties }
        });
        return z.object({ id: z.string(), url: z.string() }).parse(response.data);
    }
});
