/**
 * Deployed script versions: the active one of each (provider, name) is what runs. Names are
 * unique within a provider only, so a lookup always says which provider (a connection's).
 */
import type { ScriptManifest } from '@ferry/runtime/contract';
import type { Sql } from '../db/connect.ts';
import { readOne, rowRead, type RowRead } from '../db/read-together.ts';

export type StoredManifest = ScriptManifest & { frequencyMs?: number };

export interface ScriptRow {
  id: string;
  name: string;
  provider: string;
  kind: 'sync' | 'action';
  code: string;
  hash: string;
  manifest: StoredManifest;
  version: number;
}

export function createScripts(sql: Sql) {
  /** The active script of this provider and name (a run reads it with its other reads: read-together.ts). */
  const activeRead = (environmentId: string, provider: string, name: string): RowRead<ScriptRow | null> => rowRead(sql`
    select s.id, s.name, s.provider, s.kind, s.code, s.hash, s.manifest, d.version
    from scripts s join deployments d on d.id = s.deployment_id
    where s.environment_id = ${environmentId} and s.provider = ${provider} and s.name = ${name} and s.active`, (row) => (row as ScriptRow | undefined) ?? null);

  return {
    activeRead,

    getActive(environmentId: string, provider: string, name: string): Promise<ScriptRow | null> {
      return readOne(activeRead(environmentId, provider, name));
    },

    /** The providers that have an active script of this name (what a lookup that missed can suggest). */
    async providersOf(environmentId: string, name: string, kind: 'sync' | 'action'): Promise<string[]> {
      const rows = await sql<{ provider: string }[]>`
        select provider from scripts where environment_id = ${environmentId} and name = ${name} and kind = ${kind} and active order by provider`;
      return rows.map((r) => r.provider);
    },

    /** The source map deployed with a script version, if it had one (read only when a run fails). */
    async sourceMap(scriptId: string): Promise<string | null> {
      const [row] = await sql<{ source_map: string | null }[]>`select source_map from scripts where id = ${scriptId}`;
      return row?.source_map ?? null;
    },

    async listActive(environmentId: string): Promise<Omit<ScriptRow, 'code'>[]> {
      return sql<Omit<ScriptRow, 'code'>[]>`
        select s.id, s.name, s.provider, s.kind, s.hash, s.manifest, d.version
        from scripts s join deployments d on d.id = s.deployment_id
        where s.environment_id = ${environmentId} and s.active order by s.name, s.provider`;
    },
  };
}
export type Scripts = ReturnType<typeof createScripts>;
