import { createSync } from 'nango';
import { z } from 'zod';

const NotionPageSchema = z.object({
    id: z.string(),
    title: z.string(),
    url: z.string(),
    last_edited_time: z.string(),
    archived: z.boolean()
});

const ResultSchema = z.object({
    id: z.string(),
    url: z.string(),
    last_edited_time: z.string(),
    archived: z.boolean(),
    properties: z.record(z.string(), z.object({ type: z.string(), title: z.array(z.object({ plain_text: z.string() })).optional() }))
});

export default createSync({
    description: 'Pages shared with the integration, from the search endpoint; resumes from a checkpoint',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/pages' }],
    checkpoint: z.object({ start_cursor: z.string() }),
    models: { NotionPage: NotionPageSchema },

    exec: async (nango) => {
        const checkpoint = await nango.getCheckpoint();
        // https://developers.notion.com/reference/post-search: start_cursor and page_size go in the body.
        for await (const page of nango.paginate({
            method: 'POST',
            endpoint: '/v1/search',
            headers: { 'Notion-Version': '2022-06-28' },
            data: { filter: { property: 'object', value: 'page' }, ...(checkpoint && { start_cursor: checkpoint.start_cursor }) },
            paginate: {
                type: 'cursor',
                cursor_path_in_response: 'next_cursor',
                cursor_name_in_request: 'start_cursor',
                response_path: 'results',
                limit: 2,
                limit_name_in_request: 'page_size',
                on_page: async ({ nextPageParam }) => {
                    if (nextPageParam !== undefined) await nango.saveCheckpoint({ start_cursor: String(nextPageParam) });
                }
            }
        })) {
            const pages = z.array(ResultSchema).parse(page);
            await nango.batchSave(
                pages.map((result) => {
                    const titleProperty = Object.values(result.properties).find((property) => property.type === 'title');
                    return {
                        id: result.id,
                        title: titleProperty?.title?.map((part) => part.plain_text).join('') ?? '',
                        url: result.url,
                        last_edited_time: result.last_edited_time,
                        archived: result.archived
                    };
                }),
                'NotionPage'
            );
        }
        await nango.clearCheckpoint();
    }
});
