import { createSync } from 'nango';
import { z } from 'zod';

const CustomerSchema = z.object({
    id: z.string(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    currency: z.string().nullable(),
    created_at: z.string(),
    delinquent: z.boolean()
});

const ListSchema = z.object({
    data: z.array(z.object({ id: z.string(), email: z.string().nullable(), name: z.string().nullable(), currency: z.string().nullable(), created: z.number(), delinquent: z.boolean() })),
    has_more: z.boolean()
});

export default createSync({
    description: 'Customers, walked with starting_after; a checkpoint after each page makes a retried run resume',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/customers' }],
    checkpoint: z.object({ starting_after: z.string() }),
    models: { StripeCustomer: CustomerSchema },

    exec: async (nango) => {
        let startingAfter = (await nango.getCheckpoint())?.starting_after;
        let hasMore = true;
        while (hasMore) {
            // https://docs.stripe.com/api/customers/list
            const response = await nango.get({ endpoint: '/v1/customers', params: { limit: 2, ...(startingAfter && { starting_after: startingAfter }) } });
            const list = ListSchema.parse(response.data);
            await nango.batchSave(
                list.data.map((customer) => ({
                    id: customer.id,
                    email: customer.email,
                    name: customer.name,
                    currency: customer.currency,
                    created_at: new Date(customer.created * 1000).toISOString(),
                    delinquent: customer.delinquent
                })),
                'StripeCustomer'
            );
            hasMore = list.has_more && list.data.length > 0;
            startingAfter = list.data.at(-1)?.id;
            if (hasMore && startingAfter) await nango.saveCheckpoint({ starting_after: startingAfter });
        }
        await nango.clearCheckpoint();
    }
});
