import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({
    id: z.string(),
    email: z.string().email().optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional()
});

const OutputSchema = z.object({ id: z.string(), email: z.string().nullable(), updated_at: z.string() });

export default createAction({
    description: 'Update a contact’s properties',
    version: '1.0.0',
    endpoint: { method: 'PATCH', path: '/contacts' },
    input: InputSchema,
    output: OutputSchema,
    scopes: ['crm.objects.contacts.write'],

    exec: async (nango, input) => {
        const properties: Record<string, string> = {};
        if (input.email) properties['email'] = input.email;
        if (input.first_name) properties['firstname'] = input.first_name;
        if (input.last_name) properties['lastname'] = input.last_name;
        if (Object.keys(properties).length === 0) {
            throw new nango.ActionError({ type: 'invalid_input', message: 'Nothing to update: give email, first_name or last_name' });
        }
        const response = await nango.patch({ endpoint: `/crm/v3/objects/contacts/${encodeURIComponent(input.id)}`, data: { properties } });
        const contact = z.object({ id: z.string(), updatedAt: z.string(), properties: z.object({ email: z.string().nullable().optional() }) }).parse(response.data);
        return { id: contact.id, email: contact.properties.email ?? null, updated_at: contact.updatedAt };
    }
});
