import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    email: z.string().email(),
    name: z.string().optional(),
    metadata: z.record(z.string(), z.string()).optional()
});

const OutputSchema = z.object({ id: z.string(), email: z.string(), livemode: z.boolean() });

export default createAction({
    description: 'Create a customer (Stripe takes form-encoded bodies)',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/customers' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        const form = new URLSearchParams({ email: input.email });
        if (input.name) form.set('name', input.name);
        for (const [key, value] of Object.entries(input.metadata ?? {})) form.set(`metadata[${key}]`, value);
        // https://docs.stripe.com/api/customers/create
        const response = await nango.post({
            endpoint: '/v1/customers',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            data: form.toString()
        });
        return z.object({ id: z.string(), email: z.string(), livemode: z.boolean() }).parse(response.data);
    }
});
