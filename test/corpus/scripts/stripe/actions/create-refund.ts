import { createAction } from 'nango';
import { createHmac, randomUUID } from 'node:crypto';
import { URLSearchParams } from 'url';
import { z } from 'zod';

const InputSchema = z.object({ payment_intent: z.string(), amount: z.number().int().positive(), reason: z.string().optional() });
const OutputSchema = z.object({ id: z.string(), status: z.string(), amount: z.number(), reference: z.string() });

export default createAction({
    description: 'Refund part or all of a payment',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/refunds' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        const form = new URLSearchParams({ payment_intent: input.payment_intent, amount: String(input.amount) });
        if (input.reason) form.set('reason', input.reason);
        // https://docs.stripe.com/api/idempotent_requests: a fresh key per refund asked for.
        const response = await nango.post({
            endpoint: '/v1/refunds',
            data: form.toString(),
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Idempotency-Key': randomUUID() }
        });
        const refund = z.object({ id: z.string(), status: z.string(), amount: z.number() }).parse(response.data);
        // A reference the caller can check against its own ledger: HMAC-SHA256 of the refund id, keyed by the payment.
        const reference = createHmac('sha256', input.payment_intent).update(refund.id).digest('base64url');
        return { id: refund.id, status: refund.status, amount: refund.amount, reference };
    }
});
