import { Hono } from 'hono';
import { z } from 'zod';
import type { Connections } from '../../connections/connections.ts';
import { MAX_PAGE_LIMIT, type RecordStore } from '../../store/records.ts';
import type { ApiEnv } from '../app.ts';
import { notFound, parseInput } from '../errors.ts';

export interface RecordRouteDeps {
  connections: Connections;
  records: RecordStore;
}

const RecordsQuery = z.strictObject({
  connection_id: z.string().min(1).max(255),
  model: z.string().min(1).max(255),
  cursor: z.string().regex(/^\d{1,19}$/, 'a cursor is the next_cursor of an earlier page').optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(100),
  modified_after: z.iso.datetime({ offset: true }).optional(),
  filter: z.string().regex(/^(added|updated|deleted)(,(added|updated|deleted))*$/, 'comma-separated added, updated, deleted').optional(),
});

export function recordRoutes(deps: RecordRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.get('/records', async (c) => {
    const q = parseInput(RecordsQuery, c.req.query(), 'query');
    const connection = await deps.connections.get(c.get('environment').id, q.connection_id);
    if (!connection) throw notFound(`connection "${q.connection_id}"`);
    const { body } = await deps.records.readPageJson({
      connectionId: connection.id,
      model: q.model,
      cursor: q.cursor ?? null,
      limit: q.limit,
      ...(q.filter ? { filter: q.filter.split(',') as ('added' | 'updated' | 'deleted')[] } : {}),
      ...(q.modified_after ? { modifiedAfter: new Date(q.modified_after) } : {}),
    });
    // Built by Postgres: served as is, never parsed here.
    return c.body(body, 200, { 'content-type': 'application/json; charset=utf-8' });
  });

  return app;
}
