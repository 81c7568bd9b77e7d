/**
 * Connections: one end user's account at one provider. Credentials are written here and read
 * only by the proxy; nothing that returns a connection to the API or a script includes them.
 */
import { z } from 'zod';
import type { Sql, TransactionSql } from '../db/connect.ts';

export const CredentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('api_key'), apiKey: z.string().min(1) }),
  z.object({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.object({ type: z.literal('basic'), username: z.string(), password: z.string() }),
]);
export type Credentials = z.infer<typeof CredentialsSchema>;

export const NewConnectionSchema = z.strictObject({
  connection_id: z.string().min(1).max(255).regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ -'),
  provider: z.string().min(1).max(63),
  credentials: CredentialsSchema.default({ type: 'none' }),
  connection_config: z.record(z.string(), z.unknown()).default({}),
  metadata: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type NewConnection = z.infer<typeof NewConnectionSchema>;

/** What the API and scripts may see of a connection. */
export interface PublicConnection {
  connection_id: string;
  provider: string;
  connection_config: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  created_at: Date;
}

export interface ConnectionRow extends PublicConnection {
  id: string;
  environment_id: string;
}

export function toPublicConnection(row: ConnectionRow): PublicConnection {
  const { connection_id, provider, connection_config, metadata, created_at } = row;
  return { connection_id, provider, connection_config, metadata, created_at };
}

const publicColumns = 'id, environment_id, connection_id, provider, connection_config, metadata, created_at';

export function createConnections(sql: Sql) {
  return {
    async create(environmentId: string, input: NewConnection, tx: Sql | TransactionSql = sql): Promise<{ row: ConnectionRow; created: boolean }> {
      const [row] = await tx<(ConnectionRow & { created: boolean })[]>`
        insert into connections (environment_id, connection_id, provider, credentials, connection_config, metadata)
        values (${environmentId}, ${input.connection_id}, ${input.provider},
                ${JSON.stringify(input.credentials)}::text::jsonb,
                ${JSON.stringify(input.connection_config)}::text::jsonb,
                ${input.metadata === null ? null : JSON.stringify(input.metadata)}::text::jsonb)
        on conflict (environment_id, connection_id) do update
          set credentials = excluded.credentials, connection_config = excluded.connection_config,
              metadata = coalesce(excluded.metadata, connections.metadata), updated_at = now()
          where connections.provider = excluded.provider
        returning ${tx.unsafe(publicColumns)}, (xmax = 0) as created`;
      if (!row) throw Object.assign(new Error(`connection ${input.connection_id} exists with another provider`), { code: 'CONFLICT' });
      const { created, ...rest } = row;
      return { row: rest, created };
    },

    async get(environmentId: string, connectionId: string): Promise<ConnectionRow | null> {
      const [row] = await sql<ConnectionRow[]>`
        select ${sql.unsafe(publicColumns)} from connections
        where environment_id = ${environmentId} and connection_id = ${connectionId}`;
      return row ?? null;
    },

    async getById(id: string): Promise<ConnectionRow | null> {
      const [row] = await sql<ConnectionRow[]>`select ${sql.unsafe(publicColumns)} from connections where id = ${id}`;
      return row ?? null;
    },

    async list(environmentId: string): Promise<ConnectionRow[]> {
      return sql<ConnectionRow[]>`
        select ${sql.unsafe(publicColumns)} from connections where environment_id = ${environmentId} order by connection_id`;
    },

    async remove(environmentId: string, connectionId: string): Promise<boolean> {
      const rows = await sql`delete from connections where environment_id = ${environmentId} and connection_id = ${connectionId}`;
      return rows.count > 0;
    },

    /** For the proxy only. */
    async credentials(id: string): Promise<Credentials> {
      const [row] = await sql<{ credentials: Credentials }[]>`select credentials from connections where id = ${id}`;
      return CredentialsSchema.parse(row?.credentials ?? { type: 'none' });
    },

    async setMetadata(id: string, metadata: Record<string, unknown>, merge: boolean): Promise<void> {
      const json = JSON.stringify(metadata);
      if (merge) await sql`update connections set metadata = coalesce(metadata, '{}'::jsonb) || ${json}::text::jsonb, updated_at = now() where id = ${id}`;
      else await sql`update connections set metadata = ${json}::text::jsonb, updated_at = now() where id = ${id}`;
    },
  };
}
export type Connections = ReturnType<typeof createConnections>;
