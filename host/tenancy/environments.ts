/** Environments and their secret keys (stored as sha256 hashes, looked up by hash). */
import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '../db/connect.ts';

export interface Environment {
  id: string;
  name: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateSecretKey(): string {
  return `fsk_${randomBytes(24).toString('base64url')}`;
}

export function createEnvironments(sql: Sql) {
  return {
    async ensure(name: string): Promise<Environment> {
      const [row] = await sql<Environment[]>`
        insert into environments (name) values (${name})
        on conflict (name) do update set name = excluded.name
        returning id, name`;
      return row!;
    },

    /** Registers `key` for the environment (idempotent). */
    async addKey(environmentId: string, key: string): Promise<void> {
      await sql`
        insert into api_keys (environment_id, key_hash) values (${environmentId}, ${hashKey(key)})
        on conflict (key_hash) do nothing`;
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
