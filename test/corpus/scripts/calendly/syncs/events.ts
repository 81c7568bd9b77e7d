import { createSync } from 'nango';
import { z } from 'zod';

const EventSchema = z.object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['active', 'canceled']),
    start_time: z.string(),
    end_time: z.string(),
    invitees: z.number()
});

const ProviderEventSchema = z.object({
    uri: z.string(),
    name: z.string(),
    status: EventSchema.shape.status,
    start_time: z.string(),
    end_time: z.string(),
    invitees_counter: z.object({ active: z.number() })
});

export default createSync({
    description: 'Scheduled events of the organization in the metadata; the provider’s defaults follow pagination.next_page',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/events' }],
    metadata: z.object({ organization: z.string() }),
    models: { CalendlyEvent: EventSchema },

    exec: async (nango) => {
        const metadata = await nango.getMetadata();
        // https://developer.calendly.com/api-docs/2d5ed9bbd2952-list-events
        for await (const page of nango.paginate({
            endpoint: '/scheduled_events',
            params: { organization: metadata?.organization ?? '', sort: 'start_time:asc', count: 2 },
            paginate: { response_path: 'collection' }
        })) {
            const events = z.array(ProviderEventSchema).parse(page);
            await nango.batchSave(
                events.map((event) => ({
                    // The event's id is the last segment of its URI.
                    id: new URL(event.uri).pathname.split('/').filter(Boolean).at(-1) ?? event.uri,
                    name: event.name,
                    status: event.status,
                    start_time: event.start_time,
                    end_time: event.end_time,
                    invitees: event.invitees_counter.active
                })),
                'CalendlyEvent'
            );
        }
    }
});
