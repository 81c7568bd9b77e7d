import { createSync } from 'nango';
import { z } from 'zod';

const ProductSchema = z.object({
    id: z.string(),
    title: z.string(),
    handle: z.string(),
    status: z.enum(['active', 'archived', 'draft']),
    variant_skus: z.array(z.string()),
    store_url: z.string()
});

const ProviderProductSchema = z.object({
    id: z.number(),
    title: z.string(),
    handle: z.string(),
    status: ProductSchema.shape.status,
    variants: z.array(z.object({ sku: z.string().nullable() }))
});

export default createSync({
    description: 'Products of the shop (https://${subdomain}.myshopify.com), with page_info links',
    version: '1.0.0',
    frequency: 'every hour',
    autoStart: true,
    syncType: 'full',
    endpoints: [{ method: 'GET', path: '/products' }],
    models: { ShopifyProduct: ProductSchema },

    exec: async (nango) => {
        const { connection_config } = await nango.getConnection();
        // https://shopify.dev/docs/api/usage/pagination-rest: the Link header's rel="next" carries page_info.
        for await (const page of nango.paginate({
            endpoint: '/admin/api/2024-10/products.json',
            params: { fields: 'id,title,handle,status,variants' },
            paginate: { type: 'link', link_rel_in_response_header: 'next', response_path: 'products', limit: 2, limit_name_in_request: 'limit' }
        })) {
            const products = z.array(ProviderProductSchema).parse(page);
            await nango.batchSave(
                products.map((product) => ({
                    id: String(product.id),
                    title: product.title,
                    handle: product.handle,
                    status: product.status,
                    variant_skus: product.variants.flatMap((variant) => (variant.sku ? [variant.sku] : [])),
                    store_url: `https://${String(connection_config['subdomain'])}.myshopify.com/products/${product.handle}`
                })),
                'ShopifyProduct'
            );
        }
    }
});
