import { createAction } from 'nango';
import { z } from 'zod';

export default createAction({
    description: 'Delete a deal',
    version: '1.0.0',
    endpoint: { method: 'DELETE', path: '/deals' },
    input: z.object({ id: z.number().int() }),
    output: z.object({ id: z.number(), deleted: z.boolean() }),

    exec: async (nango, input) => {
        // https://developers.pipedrive.com/docs/api/v1/Deals#deleteDeal
        const response = await nango.delete({ endpoint: `/v1/deals/${input.id}` });
        const body = z.object({ success: z.boolean(), data: z.object({ id: z.number() }).nullable() }).parse(response.data);
        if (!body.success || !body.data) {
            throw new nango.ActionError({ type: 'not_deleted', message: `Pipedrive did not delete deal ${input.id}` });
        }
        return { id: body.data.id, deleted: true };
    }
});
