import { createSync } from 'nango';
import { z } from 'zod';

const CompanySchema = z.object({
    id: z.string(),
    name: z.string(),
    domain: z.string().nullable(),
    industry: z.string().nullable()
});

const ResultSchema = z.object({
    id: z.string(),
    properties: z.object({ name: z.string(), domain: z.string().nullable(), industry: z.string().nullable() })
});

export default createSync({
    description: 'Companies from the search API: the cursor and the page size travel in the POST body',
    version: '1.0.0',
    frequency: 'every 6 hours',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/companies' }],
    models: { HubspotCompany: CompanySchema },

    exec: async (nango) => {
        // https://developers.hubspot.com/docs/api/crm/search
        for await (const page of nango.paginate({
            method: 'POST',
            endpoint: '/crm/v3/objects/companies/search',
            data: {
                filterGroups: [{ filters: [{ propertyName: 'lifecyclestage', operator: 'EQ', value: 'customer' }] }],
                properties: ['name', 'domain', 'industry'],
                sorts: [{ propertyName: 'name', direction: 'ASCENDING' }]
            },
            paginate: { limit: 2 }
        })) {
            const companies = z.array(ResultSchema).parse(page);
            await nango.batchSave(
                companies.map(({ id, properties }) => ({ id, name: properties.name, domain: properties.domain, industry: properties.industry })),
                'HubspotCompany'
            );
        }
    }
});
