/**
 * The environment's OAuth app at each provider (client id, secret, scopes), which connect uses
 * for the authorization-code grant. The secret is encrypted like connection credentials and
 * never returned.
 */
import { z } from 'zod';
import type { Cipher } from '../crypto/cipher.ts';
import type { Sql } from '../db/connect.ts';

export const OAuthClientInputSchema = z.strictObject({
  client_id: z.string().min(1).max(1000),
  client_secret: z.string().min(1).max(4000).optional(),
  /** Replaces the catalog's scopes for this environment. */
  scopes: z.array(z.string().min(1).max(500)).max(200).optional(),
});
export type OAuthClientInput = z.infer<typeof OAuthClientInputSchema>;

export interface OAuthClient {
  clientId: string;
  clientSecret: string | undefined;
  scopes: string[] | null;
}

export function createOAuthClients(sql: Sql, cipher: Cipher) {
  return {
    async put(environmentId: string, provider: string, input: OAuthClientInput): Promise<void> {
      await sql`
        insert into provider_oauth_clients (environment_id, provider, client_id, client_secret_enc, scopes)
        values (${environmentId}, ${provider}, ${input.client_id}, ${input.client_secret ? cipher.encrypt(input.client_secret) : null}, ${input.scopes ?? null})
        on conflict (environment_id, provider) do update set client_id = excluded.client_id,
          client_secret_enc = excluded.client_secret_enc, scopes = excluded.scopes, updated_at = now()`;
    },

    async get(environmentId: string, provider: string): Promise<OAuthClient | null> {
      const [row] = await sql<{ client_id: string; client_secret_enc: string | null; scopes: string[] | null }[]>`
        select client_id, client_secret_enc, scopes from provider_oauth_clients where environment_id = ${environmentId} and provider = ${provider}`;
      if (!row) return null;
      return { clientId: row.client_id, clientSecret: row.client_secret_enc ? cipher.decrypt(row.client_secret_enc) : undefined, scopes: row.scopes };
    },

    /** Providers the environment has an OAuth client for. */
    async providers(environmentId: string): Promise<Set<string>> {
      const rows = await sql<{ provider: string }[]>`select provider from provider_oauth_clients where environment_id = ${environmentId}`;
      return new Set(rows.map((r) => r.provider));
    },

    async remove(environmentId: string, provider: string): Promise<boolean> {
      const rows = await sql`delete from provider_oauth_clients where environment_id = ${environmentId} and provider = ${provider}`;
      return rows.count > 0;
    },
  };
}
export type OAuthClients = ReturnType<typeof createOAuthClients>;
