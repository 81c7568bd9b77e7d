/** The provider catalog: base URL and auth scheme per provider, stored as data per environment. */
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';

export const ProviderAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('bearer') }),
  z.object({ type: z.literal('api_key'), in: z.enum(['header', 'query']), name: z.string().min(1) }),
  z.object({ type: z.literal('basic') }),
]);

export const ProviderSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _'),
  base_url: z.url(),
  auth: ProviderAuthSchema,
});
export type Provider = z.infer<typeof ProviderSchema>;

export function createProviders(sql: Sql) {
  return {
    async upsert(environmentId: string, provider: Provider): Promise<void> {
      await sql`
        insert into providers (environment_id, name, base_url, auth)
        values (${environmentId}, ${provider.name}, ${provider.base_url}, ${JSON.stringify(provider.auth)}::text::jsonb)
        on conflict (environment_id, name) do update
          set base_url = excluded.base_url, auth = excluded.auth, updated_at = now()`;
    },
    async get(environmentId: string, name: string): Promise<Provider | null> {
      const [row] = await sql<Provider[]>`
        select name, base_url, auth from providers where environment_id = ${environmentId} and name = ${name}`;
      return row ?? null;
    },
    async list(environmentId: string): Promise<Provider[]> {
      return sql<Provider[]>`select name, base_url, auth from providers where environment_id = ${environmentId} order by name`;
    },
  };
}
export type Providers = ReturnType<typeof createProviders>;
