import { createSync } from 'nango';
import { z } from 'zod';

const AirtableRecordSchema = z.object({
    id: z.string(),
    created_time: z.string(),
    fields: z.record(z.string(), z.unknown())
});

export default createSync({
    description: 'Every record of the table named in the metadata, as Airtable returns its fields',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/records' }],
    metadata: z.object({ base_id: z.string(), table: z.string() }),
    models: { AirtableRecord: AirtableRecordSchema },

    exec: async (nango) => {
        const metadata = await nango.getMetadata();
        if (!metadata?.base_id || !metadata.table) {
            throw new Error('metadata needs base_id and table');
        }
        // https://airtable.com/developers/web/api/list-records: the offset comes back until the last page.
        for await (const page of nango.paginate({
            endpoint: `/v0/${metadata.base_id}/${encodeURIComponent(metadata.table)}`,
            paginate: { type: 'cursor', cursor_path_in_response: 'offset', cursor_name_in_request: 'offset', response_path: 'records', limit: 2, limit_name_in_request: 'pageSize' }
        })) {
            const records = z.array(z.object({ id: z.string(), createdTime: z.string(), fields: z.record(z.string(), z.unknown()) })).parse(page);
            await nango.batchSave(records.map((record) => ({ id: record.id, created_time: record.createdTime, fields: record.fields })), 'AirtableRecord');
        }
    }
});
