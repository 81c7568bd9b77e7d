import { createAction } from 'nango';
import crypto from 'crypto';
import { z } from 'zod';

const InputSchema = z.object({ list_id: z.string(), email: z.string() });
const OutputSchema = z.object({ id: z.string(), email: z.string(), status: z.string() });

export default createAction({
    description: 'A list member, found by email address',
    version: '1.0.0',
    endpoint: { method: 'GET', path: '/members' },
    input: InputSchema,
    output: OutputSchema,

    exec: async (nango, input) => {
        // https://mailchimp.com/developer/marketing/api/list-members/get-member-info/: the member's
        // id is the MD5 hash of the lowercase email address.
        const subscriberHash = crypto.createHash('md5').update(input.email.toLowerCase()).digest('hex');
        const response = await nango.get({ endpoint: `/3.0/lists/${input.list_id}/members/${subscriberHash}` });
        const member = z.object({ id: z.string(), email_address: z.string(), status: z.string() }).parse(response.data);
        return { id: member.id, email: member.email_address, status: member.status };
    }
});
