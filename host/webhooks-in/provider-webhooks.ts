/**
 * How each provider's webhooks are verified and routed, kept as data per environment beside the
 * provider catalog: the signature header and HMAC scheme, the shared secret, where the payload
 * names its connection, and where its event type is.
 */
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';

const DotPath = z.string().max(200).regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'a dot path such as "account.id"');
const HeaderName = z.string().min(1).max(100).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name').transform((h) => h.toLowerCase());
/** The placeholder for the raw body in signed_content. */
export const SIGNED_BODY = '{body}';

/** How the provider writes its signature header (signature-schemes.ts). */
export const SIGNATURE_SCHEMES = ['hmac', 'stripe', 'standard-webhooks'] as const;
export type SignatureSchemeName = (typeof SIGNATURE_SCHEMES)[number];

export const ProviderWebhookSchema = z.strictObject({
  /** hmac: prefix + one digest, as the fields below say; stripe: `t=…,v1=…`; standard-webhooks: `v1,… v1,…`. */
  scheme: z.enum(SIGNATURE_SCHEMES).default('hmac'),
  signature_header: z.string().min(1).max(100).transform((h) => h.toLowerCase()),
  algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha256'),
  encoding: z.enum(['hex', 'base64']).default('hex'),
  /** Text before the digest in the header, e.g. "sha256=". */
  signature_prefix: z.string().max(50).default(''),
  secret: z.string().min(8).max(500),
  connection_id_path: DotPath,
  event_path: DotPath.optional(),
  event_header: z.string().min(1).max(100).transform((h) => h.toLowerCase()).optional(),
  /** The header carrying the send time in unix seconds, when the provider sends one (Slack, Standard Webhooks). */
  timestamp_header: HeaderName.optional(),
  /** How far that time may be from the receipt, either way, before the delivery is refused as replayed. */
  tolerance_seconds: z.number().int().min(1).max(86_400).default(300),
  /** What the HMAC covers: the raw body, or the provider's own composition of it with {timestamp} and {delivery_id}. */
  signed_content: z.string().min(1).max(200).default(SIGNED_BODY),
  /** Where the provider's unique delivery id is, when it sends one: a delivery already received under it is not queued again. */
  delivery_id_header: HeaderName.optional(),
  delivery_id_path: DotPath.optional(),
});
export type ProviderWebhook = z.infer<typeof ProviderWebhookSchema>;

/** Fields that contradict each other, each with why; empty when the configuration holds together. */
export function webhookConfigIssues(config: ProviderWebhook): Array<{ path: string[]; message: string }> {
  const issues: Array<{ path: string[]; message: string }> = [];
  if (config.event_path && config.event_header) issues.push({ path: ['body', 'event_header'], message: 'conflicts with event_path: give one' });
  if (config.delivery_id_path && config.delivery_id_header) issues.push({ path: ['body', 'delivery_id_header'], message: 'conflicts with delivery_id_path: give one' });
  const content = config.signed_content;
  const unknown = [...content.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((name) => !['body', 'timestamp', 'delivery_id'].includes(name!));
  if (unknown.length > 0) issues.push({ path: ['body', 'signed_content'], message: `unknown placeholder {${unknown[0]}}: use {body}, {timestamp} and {delivery_id}` });
  if (content.split(SIGNED_BODY).length !== 2) issues.push({ path: ['body', 'signed_content'], message: 'must hold {body} exactly once' });
  if (content.includes('{timestamp}') && !config.timestamp_header) issues.push({ path: ['body', 'signed_content'], message: '{timestamp} needs timestamp_header' });
  if (content.includes('{delivery_id}') && !config.delivery_id_header) issues.push({ path: ['body', 'signed_content'], message: '{delivery_id} needs delivery_id_header' });
  return issues;
}

interface Row {
  scheme: SignatureSchemeName;
  signature_header: string;
  algorithm: ProviderWebhook['algorithm'];
  encoding: ProviderWebhook['encoding'];
  signature_prefix: string;
  secret: string;
  connection_id_path: string;
  event_path: string | null;
  event_header: string | null;
  timestamp_header: string | null;
  tolerance_seconds: number;
  signed_content: string;
  delivery_id_header: string | null;
  delivery_id_path: string | null;
}

const OPTIONAL_COLUMNS = ['event_path', 'event_header', 'timestamp_header', 'delivery_id_header', 'delivery_id_path'] as const;

function fromRow(row: Row): ProviderWebhook {
  const config: Record<string, unknown> = { ...row };
  for (const column of OPTIONAL_COLUMNS) if (config[column] === null) delete config[column];
  return config as ProviderWebhook;
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
        insert into provider_webhooks (environment_id, provider, scheme, signature_header, algorithm, encoding, signature_prefix, secret, connection_id_path, event_path, event_header,
          timestamp_header, tolerance_seconds, signed_content, delivery_id_header, delivery_id_path)
        values (${environmentId}, ${provider}, ${config.scheme}, ${config.signature_header}, ${config.algorithm}, ${config.encoding}, ${config.signature_prefix},
          ${config.secret}, ${config.connection_id_path}, ${config.event_path ?? null}, ${config.event_header ?? null},
          ${config.timestamp_header ?? null}, ${config.tolerance_seconds}, ${config.signed_content}, ${config.delivery_id_header ?? null}, ${config.delivery_id_path ?? null})
        on conflict (environment_id, provider) do update set
          scheme = excluded.scheme, signature_header = excluded.signature_header, algorithm = excluded.algorithm, encoding = excluded.encoding,
          signature_prefix = excluded.signature_prefix, secret = excluded.secret, connection_id_path = excluded.connection_id_path,
          event_path = excluded.event_path, event_header = excluded.event_header,
          timestamp_header = excluded.timestamp_header, tolerance_seconds = excluded.tolerance_seconds, signed_content = excluded.signed_content,
          delivery_id_header = excluded.delivery_id_header, delivery_id_path = excluded.delivery_id_path, updated_at = now()`;
    },

    async get(environmentId: string, provider: string): Promise<ProviderWebhook | null> {
      const [row] = await sql<Row[]>`
        select scheme, signature_header, algorithm, encoding, signature_prefix, secret, connection_id_path, event_path, event_header,
          timestamp_header, tolerance_seconds, signed_content, delivery_id_header, delivery_id_path
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
