import { createSync } from 'nango';
import { z } from 'zod';

const DocFileSchema = z.object({
    id: z.string(),
    sha: z.string(),
    text: z.string(),
    bytes: z.number()
});

const ListingSchema = z.array(z.object({ type: z.string(), path: z.string() }));
const ContentSchema = z.object({ path: z.string(), sha: z.string(), encoding: z.literal('base64'), content: z.string() });

export default createSync({
    description: 'The Markdown files of the handbook repository, decoded',
    version: '1.0.0',
    frequency: 'every day',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/docs-files', group: 'Docs' }],
    models: { DocFile: DocFileSchema },

    exec: async (nango) => {
        // https://docs.github.com/en/rest/repos/contents#get-repository-content
        const listing = ListingSchema.parse((await nango.get({ endpoint: '/repos/acme/handbook/contents/docs' })).data);
        for (const entry of listing.filter((e) => e.type === 'file' && e.path.endsWith('.md'))) {
            const file = ContentSchema.parse((await nango.get({ endpoint: `/repos/acme/handbook/contents/${entry.path}` })).data);
            // GitHub sends the file as base64 in lines of 60 characters; Buffer decodes it (UTF-8 included).
            const text = Buffer.from(file.content, 'base64').toString('utf8');
            await nango.batchSave([{ id: file.path, sha: file.sha, text, bytes: Buffer.byteLength(text) }], 'DocFile');
        }
    }
});
