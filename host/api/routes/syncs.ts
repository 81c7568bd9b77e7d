import { Hono } from 'hono';
import { z } from 'zod';
import type { Connections } from '../../connections/connections.ts';
import type { Scripts } from '../../deploy/scripts.ts';
import type { SyncJob } from '../../sync/run-sync.ts';
import type { SyncState } from '../../sync/sync-state.ts';
import type { ApiEnv } from '../app.ts';
import { jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes, type RouteSpec } from '../openapi/index.ts';

export interface SyncRouteDeps {
  connections: Connections;
  scripts: Scripts;
  syncState: SyncState;
  enqueueSync(job: SyncJob): Promise<string | null>;
}

const SyncName = z.object({ name: z.string().min(1).max(100) });
const TriggerBody = z.strictObject({ connection_id: z.string().min(1).max(255), full: z.boolean().default(false) });
const StatusQuery = z.strictObject({ connection_id: z.string().min(1).max(255) });

export const syncRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/syncs/:name/trigger', tag: 'syncs', params: SyncName, body: TriggerBody, summary: 'Queue a run of a sync for a connection now (full: a full refresh)',
    responses: { 202: { description: 'Queued, or already queued', schema: z.object({ queued: z.boolean(), already_queued: z.boolean() }) } },
  },
  {
    method: 'get', path: '/syncs/:name/status', tag: 'syncs', params: SyncName, query: StatusQuery, summary: 'Where a sync stands for a connection',
    responses: { 200: { description: 'Schedule and state', schema: z.looseObject({ sync: z.string(), connection_id: z.string(), paused: z.boolean() }) } },
  },
  ...(['pause', 'resume'] as const).map((action): RouteSpec => ({
    method: 'post', path: `/syncs/:name/${action}`, tag: 'syncs', params: SyncName, body: StatusQuery, summary: `${action === 'pause' ? 'Pause' : 'Resume'} a sync's schedule for a connection`,
    responses: { 200: { description: 'The new state', schema: z.object({ sync: z.string(), connection_id: z.string(), paused: z.boolean() }) } },
  })),
]);

export function syncRoutes(deps: SyncRouteDeps) {
  const app = new Hono<ApiEnv>();

  async function resolve(environmentId: string, syncName: string, connectionId: string) {
    const script = await deps.scripts.getActive(environmentId, syncName);
    if (!script || script.kind !== 'sync') throw notFound(`sync "${syncName}"`);
    const connection = await deps.connections.get(environmentId, connectionId);
    if (!connection) throw notFound(`connection "${connectionId}"`);
    const state = await deps.syncState.get(connection.id, syncName);
    if (!state) throw notFound(`sync "${syncName}" for connection "${connectionId}"`);
    return { script, connection, state };
  }

  app.post('/syncs/:name/trigger', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const body = parseInput(TriggerBody, await jsonBody(c), 'body');
    const { connection } = await resolve(c.get('environment').id, name, body.connection_id);
    const jobId = await deps.enqueueSync({ connectionId: connection.id, syncName: name, trigger: 'manual', full: body.full });
    // null: a run of this pair is already queued; it will pick up the latest state anyway.
    return c.json({ queued: jobId !== null, already_queued: jobId === null }, 202);
  });

  app.get('/syncs/:name/status', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const q = parseInput(StatusQuery, c.req.query(), 'query');
    const { state, script } = await resolve(c.get('environment').id, name, q.connection_id);
    return c.json({
      sync: name,
      connection_id: q.connection_id,
      version: script.version,
      paused: state.paused,
      frequency_ms: Number(state.frequency_ms),
      next_run_at: state.next_run_at,
      last_sync_date: state.last_sync_date,
      checkpoint: state.checkpoint,
    });
  });

  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    app.post(`/syncs/:name/${action}`, async (c) => {
      const { name } = parseInput(SyncName, c.req.param(), 'params');
      const body = parseInput(StatusQuery, await jsonBody(c), 'body');
      const { connection } = await resolve(c.get('environment').id, name, body.connection_id);
      await deps.syncState.setPaused(connection.id, name, paused);
      return c.json({ sync: name, connection_id: body.connection_id, paused });
    });
  }

  return app;
}
