/**
 * Connections: one end user's account at one provider. Credentials are encrypted at rest
 * (host/crypto/cipher.ts), written here and decrypted only for the proxy; nothing that returns a
 * connection to the API or a script includes them.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Cipher } from '../crypto/cipher.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { readOne, rowRead, type RowRead } from '../db/read-together.ts';
import { CAPS } from '@ferry/runtime/caps';
import { MetadataObjectSchema, metadataBytes, MetadataTooLargeError } from './metadata-size.ts';

export const CredentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('api_key'), apiKey: z.string().min(1) }),
  z.object({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.object({ type: z.literal('basic'), username: z.string(), password: z.string() }),
  z.object({
    type: z.literal('oauth2'),
    accessToken: z.string().min(1),
    refreshToken: z.string().min(1).optional(),
    /** When the access token expires (ISO time); refreshed ahead of it. */
    expiresAt: z.iso.datetime({ offset: true }).optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
  }),
]);
export type Credentials = z.infer<typeof CredentialsSchema>;
export type OAuth2Credentials = Extract<Credentials, { type: 'oauth2' }>;

export const ConnectionIdSchema = z.string().min(1).max(255).regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ -');
const ObjectSchema = z.record(z.string(), z.unknown());

export const NewConnectionSchema = z.strictObject({
  connection_id: ConnectionIdSchema,
  provider: z.string().min(1).max(63),
  credentials: CredentialsSchema.default({ type: 'none' }),
  connection_config: ObjectSchema.default({}),
  metadata: MetadataObjectSchema.nullable().default(null),
});
export type NewConnection = z.infer<typeof NewConnectionSchema>;

export const ConnectionPatchSchema = z.strictObject({
  credentials: CredentialsSchema.optional(),
  connection_config: ObjectSchema.optional(),
  metadata: MetadataObjectSchema.nullable().optional(),
});
export type ConnectionPatch = z.infer<typeof ConnectionPatchSchema>;

export type AuthStatus = 'ok' | 'reauth_required';

/** What the API and scripts may see of a connection. */
export interface PublicConnection {
  connection_id: string;
  provider: string;
  connection_config: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  auth_status: AuthStatus;
  auth_error: string | null;
  /** The app's end user (and organisation) the connection was made for through connect; null otherwise. */
  end_user: { id: string; org_id: string | null } | null;
  created_at: Date;
  updated_at: Date;
}

export interface ConnectionRow extends Omit<PublicConnection, 'end_user'> {
  id: string;
  environment_id: string;
  end_user_id: string | null;
  end_user_org_id: string | null;
}

export function toPublicConnection(row: ConnectionRow): PublicConnection {
  const { connection_id, provider, connection_config, metadata, auth_status, auth_error, created_at, updated_at } = row;
  const end_user = row.end_user_id === null ? null : { id: row.end_user_id, org_id: row.end_user_org_id };
  return { connection_id, provider, connection_config, metadata, auth_status, auth_error, end_user, created_at, updated_at };
}

/** Raised when a connection's credentials no longer work and only the end user can fix them. */
export class ReauthRequiredError extends Error {
  readonly code = 'CONNECTION_REAUTH_REQUIRED';
  constructor(connectionId: string, reason: string) {
    super(`connection ${connectionId} needs re-authorisation: ${reason}`);
    this.name = 'ReauthRequiredError';
  }
}

export interface ConnectionRef {
  id: string;
  connection_id: string;
}

/** Runs in the transaction that marks a connection as needing re-authorisation (connect publishes connection.auth_failed). */
export type OnReauthRequired = (tx: TransactionSql, connection: ConnectionRef, reason: string) => Promise<void>;

/** What markRefused did: only 'marked' is a transition (and was announced). */
export type RefusalOutcome = 'marked' | 'already_marked' | 'replaced' | 'gone';

const publicColumns = 'id, environment_id, connection_id, provider, connection_config, metadata, auth_status, auth_error, end_user_id, end_user_org_id, created_at, updated_at';
const jsonOrNull = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

export function createConnections(sql: Sql, cipher: Cipher) {
  const seal = (credentials: Credentials) => cipher.encrypt(JSON.stringify(CredentialsSchema.parse(credentials)));
  /** By internal id (a run reads it with its other reads: read-together.ts). */
  const byIdRead = (id: string): RowRead<ConnectionRow | null> =>
    rowRead(sql`select ${sql.unsafe(publicColumns)} from connections where id = ${id}`, (row) => (row as ConnectionRow | undefined) ?? null);

  function open(row: { credentials_enc: string | null; credentials: unknown } | undefined): Credentials {
    if (!row) return { type: 'none' };
    // Rows written before encryption keep plaintext until start-up re-encrypts them.
    if (row.credentials_enc === null) return CredentialsSchema.catch({ type: 'none' }).parse(row.credentials);
    return CredentialsSchema.parse(JSON.parse(cipher.decrypt(row.credentials_enc)));
  }

  async function saveCredentials(id: string, credentials: Credentials, tx: Sql | TransactionSql = sql): Promise<void> {
    await tx`
      update connections set credentials_enc = ${seal(credentials)}, credentials_key_id = ${cipher.currentKeyId},
        credentials = '{}'::jsonb, updated_at = now()
      where id = ${id}`;
  }

  return {
    async create(environmentId: string, input: NewConnection, tx: Sql | TransactionSql = sql): Promise<{ row: ConnectionRow; created: boolean }> {
      const [row] = await tx<(ConnectionRow & { created: boolean })[]>`
        insert into connections (environment_id, connection_id, provider, credentials, credentials_enc, credentials_key_id, connection_config, metadata)
        values (${environmentId}, ${input.connection_id}, ${input.provider}, '{}'::jsonb,
                ${seal(input.credentials)}, ${cipher.currentKeyId},
                ${JSON.stringify(input.connection_config)}::text::jsonb,
                ${jsonOrNull(input.metadata)}::text::jsonb)
        on conflict (environment_id, connection_id) do update
          set credentials_enc = excluded.credentials_enc, credentials_key_id = excluded.credentials_key_id,
              connection_config = excluded.connection_config,
              metadata = coalesce(excluded.metadata, connections.metadata),
              auth_status = 'ok', auth_error = null, updated_at = now()
          where connections.provider = excluded.provider
        returning ${tx.unsafe(publicColumns)}, (xmax = 0) as created`;
      if (!row) throw Object.assign(new Error(`connection ${input.connection_id} exists with another provider`), { code: 'CONFLICT' });
      const { created, ...rest } = row;
      return { row: rest, created };
    },

    /** Changes what the patch names; new credentials clear a re-authorisation flag. */
    async update(environmentId: string, connectionId: string, patch: ConnectionPatch): Promise<ConnectionRow | null> {
      const [row] = await sql<ConnectionRow[]>`
        update connections set
          credentials_enc = coalesce(${patch.credentials ? seal(patch.credentials) : null}, credentials_enc),
          credentials_key_id = case when ${patch.credentials !== undefined} then ${cipher.currentKeyId} else credentials_key_id end,
          auth_status = case when ${patch.credentials !== undefined} then 'ok' else auth_status end,
          auth_error = case when ${patch.credentials !== undefined} then null else auth_error end,
          connection_config = coalesce(${jsonOrNull(patch.connection_config)}::text::jsonb, connection_config),
          metadata = case when ${patch.metadata !== undefined} then ${jsonOrNull(patch.metadata)}::text::jsonb else metadata end,
          updated_at = now()
        where environment_id = ${environmentId} and connection_id = ${connectionId}
        returning ${sql.unsafe(publicColumns)}`;
      return row ?? null;
    },

    async get(environmentId: string, connectionId: string): Promise<ConnectionRow | null> {
      const [row] = await sql<ConnectionRow[]>`
        select ${sql.unsafe(publicColumns)} from connections
        where environment_id = ${environmentId} and connection_id = ${connectionId}`;
      return row ?? null;
    },

    byIdRead,

    getById(id: string): Promise<ConnectionRow | null> {
      return readOne(byIdRead(id));
    },

    /** The environment's connections, or one end user's. */
    async list(environmentId: string, filter: { endUserId?: string | undefined } = {}): Promise<ConnectionRow[]> {
      return sql<ConnectionRow[]>`
        select ${sql.unsafe(publicColumns)} from connections where environment_id = ${environmentId}
          ${filter.endUserId === undefined ? sql`` : sql`and end_user_id = ${filter.endUserId}`}
        order by connection_id`;
    },

    /**
     * Deletes the connection and, in the same transaction, everything synced for it (records
     * have no foreign key, so that ingest does not pay for one): nothing of a deleted end user's
     * data is left behind.
     */
    async remove(environmentId: string, connectionId: string): Promise<boolean> {
      return sql.begin(async (tx) => {
        const [gone] = await tx<{ id: string }[]>`
          delete from connections where environment_id = ${environmentId} and connection_id = ${connectionId} returning id`;
        if (!gone) return false;
        await tx`delete from records where connection_id = ${gone.id}`;
        await tx`delete from rejected_records where connection_id = ${gone.id}`;
        await tx`delete from sync_seen where connection_id = ${gone.id}`;
        return true;
      });
    },

    /** For the proxy only. Pass a transaction holding the refresh lock to read what it protects. */
    async credentials(id: string, tx: Sql | TransactionSql = sql): Promise<Credentials> {
      const [row] = await tx<{ credentials_enc: string | null; credentials: unknown }[]>`
        select credentials_enc, credentials from connections where id = ${id}`;
      return open(row);
    },

    saveCredentials,

    async authStatus(id: string): Promise<{ auth_status: AuthStatus; auth_error: string | null } | null> {
      const [row] = await sql<{ auth_status: AuthStatus; auth_error: string | null }[]>`select auth_status, auth_error from connections where id = ${id}`;
      return row ?? null;
    },

    async markReauthRequired(id: string, reason: string, tx: Sql | TransactionSql = sql): Promise<void> {
      await tx`update connections set auth_status = 'reauth_required', auth_error = ${reason}, updated_at = now() where id = ${id}`;
    },

    /**
     * Credentials a provider just refused on a call: marks the connection, and runs `then` in the
     * same transaction, only while it is still 'ok' and still holds exactly `refused`. The row
     * lock makes concurrent refusals mark (and announce) once, and credentials stored since the
     * call went out ('replaced') are not blamed for the old ones.
     */
    async markRefused(connection: ConnectionRef, refused: Credentials, reason: string, then?: OnReauthRequired): Promise<RefusalOutcome> {
      return sql.begin(async (tx) => {
        const [row] = await tx<{ auth_status: AuthStatus; credentials_enc: string | null; credentials: unknown }[]>`
          select auth_status, credentials_enc, credentials from connections where id = ${connection.id} for update`;
        if (!row) return 'gone';
        if (row.auth_status !== 'ok') return 'already_marked';
        if (!isDeepStrictEqual(open(row), refused)) return 'replaced';
        await tx`update connections set auth_status = 'reauth_required', auth_error = ${reason}, updated_at = now() where id = ${connection.id}`;
        await then?.(tx, connection, reason);
        return 'marked';
      });
    },

    /**
     * Key rotation and the move off plaintext: re-encrypts, under the current key, every row
     * written with another key or not encrypted yet. Idempotent; safe to run from every process.
     * `environmentId` limits it to one environment (what an environment's own API key may touch);
     * without it (host start-up) every environment's rows move.
     */
    async reencrypt(environmentId?: string): Promise<number> {
      let done = 0;
      for (;;) {
        const moved = await sql.begin(async (tx) => {
          const rows = await tx<{ id: string; credentials_enc: string | null; credentials: unknown }[]>`
            select id, credentials_enc, credentials from connections
            where credentials_key_id is distinct from ${cipher.currentKeyId}
              ${environmentId === undefined ? tx`` : tx`and environment_id = ${environmentId}`}
            order by id limit 100 for update skip locked`;
          for (const row of rows) await saveCredentials(row.id, open(row), tx);
          return rows.length;
        });
        done += moved;
        if (moved === 0) return done;
      }
    },

    /**
     * `tx`: a run's fenced transaction (host/runs/run-fence.ts). The metadata as stored — merged,
     * when `merge` — is held to CAPS.stateBytes, whoever writes it (a script or the API).
     */
    async setMetadata(id: string, metadata: Record<string, unknown>, merge: boolean, tx?: TransactionSql): Promise<void> {
      const write = async (t: TransactionSql) => {
        const json = JSON.stringify(metadata);
        if (!merge) {
          const bytes = Buffer.byteLength(json);
          if (bytes > CAPS.stateBytes) throw new MetadataTooLargeError(bytes);
          await t`update connections set metadata = ${json}::text::jsonb, updated_at = now() where id = ${id}`;
          return;
        }
        const [row] = await t<{ metadata: Record<string, unknown> | null }[]>`select metadata from connections where id = ${id} for update`;
        const bytes = metadataBytes({ ...row?.metadata, ...metadata });
        if (bytes > CAPS.stateBytes) throw new MetadataTooLargeError(bytes);
        await t`update connections set metadata = coalesce(metadata, '{}'::jsonb) || ${json}::text::jsonb, updated_at = now() where id = ${id}`;
      };
      if (tx) await write(tx);
      else await sql.begin(write);
    },
  };
}
export type Connections = ReturnType<typeof createConnections>;
