/**
 * The models a connection has: those the active scripts of its provider declare, and those it
 * still holds records of (a model dropped from the scripts keeps its records readable). GET
 * /records asks only when a page comes back empty, to tell an unknown model from one with
 * nothing new.
 */
import type { Sql } from '../db/connect.ts';

export async function modelsOfConnection(sql: Sql, connectionId: string): Promise<string[]> {
  const rows = await sql<Array<{ model: string }>>`
    select m.model from connections c
      join scripts s on s.environment_id = c.environment_id and s.active and s.provider = c.provider
      cross join lateral jsonb_array_elements_text(coalesce(s.manifest->'models', '[]'::jsonb)) as m(model)
    where c.id = ${connectionId}
    union
    select distinct model from records where connection_id = ${connectionId}
    order by 1`;
  return rows.map((r) => r.model);
}
