import { Hono } from 'hono';
import { z } from 'zod';
import type { Connections } from '../../connections/connections.ts';
import type { RunRow, Runs } from '../../runs/runs.ts';
import type { ApiEnv } from '../app.ts';
import { notFound, parseInput } from '../errors.ts';

export interface RunRouteDeps {
  connections: Connections;
  runs: Runs;
}

const RunsQuery = z.strictObject({
  connection_id: z.string().min(1).max(255),
  sync: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().regex(/^\d{1,19}$/).optional(),
});
const RunIdParam = z.object({ id: z.string().regex(/^\d{1,19}$/, 'a run id is a number') });
const LogsQuery = z.strictObject({
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

function presentRun(run: RunRow, connectionId: string) {
  return {
    id: run.id,
    connection_id: connectionId,
    sync: run.script_name,
    kind: run.kind,
    version: run.script_version,
    status: run.status,
    trigger: run.trigger,
    full: run.is_full,
    started_at: run.started_at,
    finished_at: run.finished_at,
    counts: { added: run.added, updated: run.updated, unchanged: run.unchanged, deleted: run.deleted, rejected: run.rejected },
    usage: run.wall_ms === null ? null : {
      wall_ms: run.wall_ms,
      cpu_ms: run.cpu_ms,
      peak_heap_bytes: Number(run.peak_heap_bytes),
      bridge_bytes: Number(run.bridge_bytes),
      proxy_calls: run.proxy_calls,
    },
    error: run.error,
  };
}

export function runRoutes(deps: RunRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.get('/runs', async (c) => {
    const q = parseInput(RunsQuery, c.req.query(), 'query');
    const connection = await deps.connections.get(c.get('environment').id, q.connection_id);
    if (!connection) throw notFound(`connection "${q.connection_id}"`);
    const runs = await deps.runs.list({ connectionId: connection.id, scriptName: q.sync, limit: q.limit, beforeId: q.before });
    return c.json({
      runs: runs.map((r) => presentRun(r, connection.connection_id)),
      next_before: runs.length === q.limit ? runs.at(-1)!.id : null,
    });
  });

  /** A run is visible only through a connection of the caller's environment. */
  async function ownRun(environmentId: string, id: string) {
    const run = await deps.runs.get(id);
    const connection = run ? await deps.connections.getById(run.connection_id) : null;
    if (!run || !connection || connection.environment_id !== environmentId) throw notFound(`run ${id}`);
    return { run, connection };
  }

  app.get('/runs/:id', async (c) => {
    const { id } = parseInput(RunIdParam, c.req.param(), 'params');
    const { run, connection } = await ownRun(c.get('environment').id, id);
    return c.json(presentRun(run, connection.connection_id));
  });

  app.get('/runs/:id/logs', async (c) => {
    const { id } = parseInput(RunIdParam, c.req.param(), 'params');
    const q = parseInput(LogsQuery, c.req.query(), 'query');
    await ownRun(c.get('environment').id, id);
    const logs = await deps.runs.logs(id, q.after, q.limit);
    return c.json({ logs, next_after: logs.length > 0 ? logs.at(-1)!.seq : q.after });
  });

  return app;
}
