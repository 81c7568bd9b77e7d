import { createSync } from 'nango';
import { z } from 'zod';

const DealSchema = z.object({
    id: z.string(),
    title: z.string(),
    value: z.number(),
    currency: z.string(),
    stage_id: z.number(),
    status: z.enum(['open', 'won', 'lost', 'deleted'])
});

export default createSync({
    description: 'Deals, with offset pagination (start grows by the records received)',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/deals' }],
    models: { PipedriveDeal: DealSchema },

    exec: async (nango) => {
        // https://developers.pipedrive.com/docs/api/v1/Deals#getDeals
        for await (const page of nango.paginate({
            endpoint: '/v1/deals',
            params: { status: 'all_not_deleted' },
            paginate: { type: 'offset', offset_name_in_request: 'start', response_path: 'data', limit: 3, limit_name_in_request: 'limit' }
        })) {
            const deals = z.array(z.object({ id: z.number(), title: z.string(), value: z.number(), currency: z.string(), stage_id: z.number(), status: DealSchema.shape.status })).parse(page);
            await nango.batchSave(
                deals.map((deal) => ({ ...deal, id: String(deal.id) })),
                'PipedriveDeal'
            );
        }
    }
});
