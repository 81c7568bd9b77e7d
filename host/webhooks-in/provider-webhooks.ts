/**
 * How each provider's webhooks are verified and routed, kept as data per environment beside the
 * provider catalog: the signature header and HMAC scheme, the shared secret, where the payload
 * names its connection, and where its event type is.
 */
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';

const DotPath = z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'a dot path such as "account.id"');

export const ProviderWebhookSchema = z.strictObject({
  signature_header: z.string().min(1).max(100).transform((h) => h.toLowerCase()),
  algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha256'),
  encoding: z.enum(['hex', 'base64']).default('hex'),
  /** Text before the digest in the header, e.g. "sha256=". */
  signature_prefix: z.string().max(50).default(''),
  secret: z.string().min(8).max(500),
  connection_id_path: DotPath,
  event_path: DotPath.optional(),
  event_header: z.string().min(1).max(100).transform((h) => h.toLowerCase()).optional(),
});
export type ProviderWebhook = z.infer<typeof ProviderWebhookSchema>;

interface Row {
  signature_header: string;
  algorithm: ProviderWebhook['algorithm'];
  encoding: ProviderWebhook['encoding'];
  signature_prefix: string;
  secret: string;
  connection_id_path: string;
  event_path: string | null;
  event_header: string | null;
}

function fromRow(row: Row): ProviderWebhook {
  const { event_path, event_header, ...rest } = row;
  return { ...rest, ...(event_path ? { event_path } : {}), ...(event_header ? { event_header } : {}) };
}

/** The configuration as the API shows it: never the secret. */
export function toPublicWebhook(provider: string, config: ProviderWebhook) {
  const { secret: _secret, ...rest } = config;
  return { provider, ...rest };
}

export function createProviderWebhooks(sql: Sql) {
  return {
    async upsert(environmentId: string, provider: string, config: ProviderWebhook): Promise<void> {
      await sql`
        insert into provider_webhooks (environment_id, provider, signature_header, algorithm, encoding, signature_prefix, secret, connection_id_path, event_path, event_header)
        values (${environmentId}, ${provider}, ${config.signature_header}, ${config.algorithm}, ${config.encoding}, ${config.signature_prefix},
          ${config.secret}, ${config.connection_id_path}, ${config.event_path ?? null}, ${config.event_header ?? null})
        on conflict (environment_id, provider) do update set
          signature_header = excluded.signature_header, algorithm = excluded.algorithm, encoding = excluded.encoding,
          signature_prefix = excluded.signature_prefix, secret = excluded.secret, connection_id_path = excluded.connection_id_path,
          event_path = excluded.event_path, event_header = excluded.event_header, updated_at = now()`;
    },

    async get(environmentId: string, provider: string): Promise<ProviderWebhook | null> {
      const [row] = await sql<Row[]>`
        select signature_header, algorithm, encoding, signature_prefix, secret, connection_id_path, event_path, event_header
        from provider_webhooks where environment_id = ${environmentId} and provider = ${provider}`;
      return row ? fromRow(row) : null;
    },

    async remove(environmentId: string, provider: string): Promise<boolean> {
      const rows = await sql`delete from provider_webhooks where environment_id = ${environmentId} and provider = ${provider}`;
      return rows.count > 0;
    },
  };
}
export type ProviderWebhooks = ReturnType<typeof createProviderWebhooks>;
