import { createSync } from 'nango';
import { z } from 'zod';

const ContactSchema = z.object({
    id: z.string(),
    email: z.string().optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    lifecycle_stage: z.string().optional(),
    updated_at: z.string()
});

const ProviderContactSchema = z.object({
    id: z.string(),
    updatedAt: z.string(),
    properties: z.object({
        email: z.string().nullable().optional(),
        firstname: z.string().nullable().optional(),
        lastname: z.string().nullable().optional(),
        lifecyclestage: z.string().nullable().optional()
    })
});

export default createSync({
    description: 'CRM contacts, walked with the provider’s pagination defaults',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    scopes: ['crm.objects.contacts.read'],
    endpoints: [{ method: 'GET', path: '/contacts' }],
    models: { HubspotContact: ContactSchema },

    exec: async (nango) => {
        // https://developers.hubspot.com/docs/api/crm/contacts: the catalog's defaults page by paging.next.after.
        for await (const page of nango.paginate({
            endpoint: '/crm/v3/objects/contacts',
            params: { properties: 'email,firstname,lastname,lifecyclestage' }
        })) {
            const contacts = z.array(ProviderContactSchema).parse(page);
            await nango.batchSave(
                contacts.map(({ id, updatedAt, properties }) => ({
                    id,
                    ...(properties.email && { email: properties.email }),
                    ...(properties.firstname && { first_name: properties.firstname }),
                    ...(properties.lastname && { last_name: properties.lastname }),
                    ...(properties.lifecyclestage && { lifecycle_stage: properties.lifecyclestage }),
                    updated_at: updatedAt
                })),
                'HubspotContact'
            );
        }
    }
});
