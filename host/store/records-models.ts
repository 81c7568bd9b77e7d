/**
 * The models a connection has: those the active scripts of its provider declare, and those it
 * still holds records of (a model dropped from the scripts keeps its records readable); and its
 * sync variants besides base (host/sync/variants.ts): those it has, and those whose records it
 * still holds (a removed variant's deletes stay readable). GET /records asks only when a page
 * comes back empty, to tell an unknown model or variant from one with nothing new.
 */
import type { Sql } from '../db/connect.ts';
import { BASE_VARIANT, splitStoredModel } from '../sync/variants.ts';

export interface ConnectionModels {
  models: string[];
  variants: string[];
}

export async function modelsOfConnection(sql: Sql, connectionId: string): Promise<ConnectionModels> {
  const [declared, stored, variants] = await Promise.all([
    sql<Array<{ model: string }>>`
      select distinct m.model from connections c
        join scripts s on s.environment_id = c.environment_id and s.active and s.provider = c.provider
        cross join lateral jsonb_array_elements_text(coalesce(s.manifest->'models', '[]'::jsonb)) as m(model)
      where c.id = ${connectionId}`,
    sql<Array<{ model: string }>>`select distinct model from records where connection_id = ${connectionId}`,
    sql<Array<{ variant: string }>>`select distinct variant from sync_state where connection_id = ${connectionId} and variant <> ${BASE_VARIANT}`,
  ]);
  const split = stored.map((r) => splitStoredModel(r.model));
  const sorted = (names: Iterable<string>) => [...new Set(names)].sort();
  return {
    models: sorted([...declared.map((r) => r.model), ...split.map((s) => s.model)]),
    variants: sorted([...variants.map((r) => r.variant), ...split.filter((s) => s.variant !== BASE_VARIANT).map((s) => s.variant)]),
  };
}
