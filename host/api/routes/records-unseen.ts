/**
 * What a full walk would delete, without reading the model: given the ids a walk saw, the
 * model's live records it did not see — their count, and the first of their ids. `ferry dryrun`
 * asks this at trackDeletesEnd instead of paging every record of the model over GET /records
 * (O(all records) per call against a big connection). Read-only: a dry run writes nothing.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Connections } from '../../connections/connections.ts';
import type { Sql } from '../../db/connect.ts';
import { retryTransient } from '../../db/transient.ts';
import { BASE_VARIANT, storedModel, VariantName } from '../../sync/variants.ts';
import type { ApiEnv } from '../app.ts';
import { jsonBody, notFound, parseInput } from '../errors.ts';
import { API_LIMITS, RecordIdSchema } from '../limits.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface UnseenRecordRouteDeps {
  sql: Sql;
  connections: Connections;
}

const { seenIds: MAX_SEEN_IDS, unseenIds: MAX_UNSEEN_IDS } = API_LIMITS;

const UnseenBody = z.strictObject({
  connection_id: z.string().min(1).max(255),
  model: z.string().min(1).max(255),
  variant: VariantName.default(BASE_VARIANT).describe('The sync variant whose records to weigh (default base)'),
  seen: z.array(RecordIdSchema).max(MAX_SEEN_IDS).describe(`The ids the walk saw (at most ${MAX_SEEN_IDS})`),
  limit: z.number().int().min(0).max(MAX_UNSEEN_IDS).default(1_000).describe('How many unseen ids to return (in id order); the count is exact whatever the limit'),
});

export const unseenRecordRouteSpecs = defineRoutes([{
  method: 'post', path: '/records/unseen', tag: 'records', body: UnseenBody,
  summary: "The model's live records a walk did not see (what a full refresh's deletes would remove)",
  responses: {
    200: { description: 'How many, and the first of their ids', schema: z.object({ count: z.number().int(), ids: z.array(z.string()) }) },
    404: { description: 'Unknown connection' },
  },
}]);

export function unseenRecordRoutes(deps: UnseenRecordRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.post('/records/unseen', async (c) => {
    const body = parseInput(UnseenBody, await jsonBody(c), 'body');
    const connection = await deps.connections.get(c.get('environment').id, body.connection_id);
    if (!connection) throw notFound(`connection "${body.connection_id}"`);
    // An anti-join against the seen ids (hashed), over the model's primary-key range: ids only,
    // never the records' data.
    const [row] = await retryTransient(() => deps.sql<{ count: number; ids: string[] }[]>`
      with unseen as (
        select r.id from records r
        where r.connection_id = ${connection.id} and r.model = ${storedModel(body.model, body.variant)} and r.deleted_at is null
          and not exists (select 1 from unnest(${body.seen}::text[]) as s(id) where s.id = r.id)
      )
      select (select count(*)::int from unseen) as count,
        array(select id from unseen order by id limit ${body.limit}) as ids`, [50]);
    return c.json({ count: row?.count ?? 0, ids: row?.ids ?? [] });
  });

  return app;
}
