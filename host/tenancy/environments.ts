/**
 * Environments and their secret keys. Keys are stored as sha256 hashes and looked up by hash;
 * the secret itself is returned once, when the key is created. An environment always keeps at
 * least one live key, so revoking can never lock its owner out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Sql, TransactionSql } from '../db/connect.ts';

export interface Environment {
  id: string;
  name: string;
}

export interface ApiKeyInfo {
  id: string;
  prefix: string | null;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

export const EnvironmentNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _ (at most 63)');

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateSecretKey(): string {
  return `fsk_${randomBytes(24).toString('base64url')}`;
}

/** Enough of a key to recognise it in a list, far too little to guess the rest. */
export function keyPrefix(key: string): string {
  return key.slice(0, 8);
}

/** Compares two secrets in constant time (by their hashes, so lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(hashKey(a), 'hex'), Buffer.from(hashKey(b), 'hex'));
}

export type RevokeOutcome = 'revoked' | 'not_found' | 'last_key';

export function createEnvironments(sql: Sql) {
  async function insertKey(environmentId: string, key: string, label: string | null, tx: Sql | TransactionSql = sql): Promise<ApiKeyInfo | null> {
    const [row] = await tx<ApiKeyInfo[]>`
      insert into api_keys (environment_id, key_hash, prefix, label)
      values (${environmentId}, ${hashKey(key)}, ${keyPrefix(key)}, ${label})
      on conflict (key_hash) do nothing
      returning id, prefix, label, created_at, revoked_at`;
    return row ?? null;
  }

  return {
    async ensure(name: string): Promise<Environment> {
      const [row] = await sql<Environment[]>`
        insert into environments (name) values (${name})
        on conflict (name) do update set name = excluded.name
        returning id, name`;
      return row!;
    },

    /** Creates an environment with its first key; null when the name is taken. */
    async create(name: string, label: string | null): Promise<{ environment: Environment; key: ApiKeyInfo & { secret: string } } | null> {
      return sql.begin(async (tx) => {
        const [environment] = await tx<Environment[]>`
          insert into environments (name) values (${name}) on conflict (name) do nothing returning id, name`;
        if (!environment) return null;
        const secret = generateSecretKey();
        const key = await insertKey(environment.id, secret, label, tx);
        return { environment, key: { ...key!, secret } };
      });
    },

    async list(): Promise<Array<Environment & { created_at: Date }>> {
      return sql<Array<Environment & { created_at: Date }>>`select id, name, created_at from environments order by id`;
    },

    async findByName(name: string): Promise<Environment | null> {
      const [row] = await sql<Environment[]>`select id, name from environments where name = ${name}`;
      return row ?? null;
    },

    /** Registers `key` for the environment (idempotent): the configured key of the default environment. */
    async addKey(environmentId: string, key: string): Promise<void> {
      await insertKey(environmentId, key, 'configured');
    },

    /** A new key for the environment; the secret is in the result and nowhere else. */
    async createKey(environmentId: string, label: string | null): Promise<ApiKeyInfo & { secret: string }> {
      const secret = generateSecretKey();
      const key = await insertKey(environmentId, secret, label);
      return { ...key!, secret };
    },

    async listKeys(environmentId: string): Promise<ApiKeyInfo[]> {
      return sql<ApiKeyInfo[]>`
        select id, prefix, label, created_at, revoked_at from api_keys where environment_id = ${environmentId} order by id`;
    },

    /** The id of a live key, found by its secret. */
    async keyId(environmentId: string, key: string): Promise<string | null> {
      const [row] = await sql<{ id: string }[]>`
        select id from api_keys where environment_id = ${environmentId} and key_hash = ${hashKey(key)} and revoked_at is null`;
      return row?.id ?? null;
    },

    /** Revokes a key unless it is the environment's last live one (an already revoked key stays revoked). */
    async revokeKey(environmentId: string, keyId: string): Promise<RevokeOutcome> {
      return sql.begin(async (tx) => {
        // Lock the environment so two concurrent revocations cannot remove the last two keys.
        await tx`select id from environments where id = ${environmentId} for update`;
        const [key] = await tx<{ revoked_at: Date | null }[]>`
          select revoked_at from api_keys where id = ${keyId} and environment_id = ${environmentId}`;
        if (!key) return 'not_found';
        if (key.revoked_at) return 'revoked';
        const [live] = await tx<{ n: number }[]>`
          select count(*)::int as n from api_keys where environment_id = ${environmentId} and revoked_at is null`;
        if ((live?.n ?? 0) <= 1) return 'last_key';
        await tx`update api_keys set revoked_at = now() where id = ${keyId}`;
        return 'revoked';
      });
    },

    /**
     * `findByKey` and, in the same query, the id of the environment's connection `connectionId`
     * (null when the environment has none by that id): one round trip for GET /records.
     */
    async findByKeyWithConnection(key: string, connectionId: string): Promise<{ environment: Environment; connection: string | null } | null> {
      const [row] = await sql<(Environment & { connection: string | null })[]>`
        select e.id, e.name, c.id as connection
        from api_keys k join environments e on e.id = k.environment_id
        left join connections c on c.environment_id = e.id and c.connection_id = ${connectionId}
        where k.key_hash = ${hashKey(key)} and k.revoked_at is null`;
      return row ? { environment: { id: row.id, name: row.name }, connection: row.connection } : null;
    },

    async findByKey(key: string): Promise<Environment | null> {
      const [row] = await sql<Environment[]>`
        select e.id, e.name from api_keys k join environments e on e.id = k.environment_id
        where k.key_hash = ${hashKey(key)} and k.revoked_at is null`;
      return row ?? null;
    },
  };
}
export type Environments = ReturnType<typeof createEnvironments>;
