import { Hono } from 'hono';
import { z } from 'zod';
import type { Connections } from '../../connections/connections.ts';
import type { Providers } from '../../connections/providers.ts';
import type { Sql } from '../../db/connect.ts';
import { findScriptFor, ScriptLookupError } from '../../deploy/script-lookup.ts';
import type { Scripts } from '../../deploy/scripts.ts';
import type { QueuedSyncJob } from '../../queue/queue.ts';
import type { Runs } from '../../runs/runs.ts';
import { parseSchedule } from '../../sync/frequency.ts';
import type { Parts } from '../../sync/parts.ts';
import { scheduledRunBlocker } from '../../sync/run-blockers.ts';
import { splitPassParts, splitProgress } from '../../sync/split-progress.ts';
import type { SyncState } from '../../sync/sync-state.ts';
import { syncHealth } from '../../sync/sync-status.ts';
import { syncStateName } from '../../sync/sync-state-name.ts';
import { BASE_VARIANT, VariantName } from '../../sync/variants.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes, type RouteSpec } from '../openapi/index.ts';
import { ScriptAddressParam, scriptLookupApiError } from './script-param.ts';

export interface SyncRouteDeps {
  sql: Sql;
  connections: Connections;
  providers: Providers;
  scripts: Scripts;
  syncState: SyncState;
  parts: Parts;
  runs: Runs;
  enqueueSync(job: QueuedSyncJob): Promise<string | null>;
}

const SyncName = ScriptAddressParam('sync');
const ConnectionParam = z.object({ connection_id: z.string().min(1).max(255) });
/** Which variant of the sync (host/sync/variants.ts); absent = 'base'. */
const Variant = VariantName.default(BASE_VARIANT).describe('The sync variant (default base); see POST /syncs/:name/variants');
const TriggerBody = z.strictObject({ connection_id: z.string().min(1).max(255), variant: Variant, full: z.boolean().default(false) });
const ConnectionBody = z.strictObject({ connection_id: z.string().min(1).max(255), variant: Variant });
const StatusQuery = z.strictObject({
  connection_id: z.string().min(1).max(255),
  variant: Variant,
  window_hours: z.coerce.number().int().min(1).max(24 * 90).default(24),
});
const ScheduleBody = z.strictObject({
  connection_id: z.string().min(1).max(255),
  variant: Variant,
  /** "every 15 minutes", a cron expression ("CRON_TZ=Europe/Paris 0 9 * * 1-5"), or null for the sync's own. */
  frequency: z.string().min(1).max(200).nullable(),
});

const StatusSchema = z.object({
  sync: z.string(),
  variant: z.string(),
  provider: z.string(),
  connection_id: z.string(),
  version: z.number().int(),
  state: z.enum(['running', 'paused', 'blocked', 'stuck', 'failing', 'idle'])
    .describe('follows the latest run; a split pass follows its parts: failing while one has failed or given up, since the pass does not complete until it succeeds'),
  paused: z.boolean(),
  connection_paused: z.boolean(),
  blocked: z.object({ code: z.enum(['CONNECTION_REAUTH_REQUIRED', 'PROVIDER_NOT_CONFIGURED']), message: z.string() }).nullable()
    .describe('Why scheduled runs do not start although due (state "blocked"); null when nothing stops them'),
  stuck: z.boolean(),
  schedule: z.string().nullable(),
  schedule_override: z.string().nullable(),
  frequency_ms: z.number(),
  next_run_at: z.string(),
  last_sync_date: z.string().nullable(),
  checkpoint: z.record(z.string(), z.unknown()).nullable(),
  retry_attempt: z.number().int(),
  consecutive_failures: z.number().int(),
  last_run: z.looseObject({ id: z.string(), status: z.string() }).nullable(),
  window_hours: z.number(),
  runs_in_window: z.number(),
  success_rate: z.number().nullable(),
  avg_duration_ms: z.number().nullable(),
  persistent_rejections: z.array(z.object({ model: z.string(), record_id: z.string().nullable(), reason: z.string() })),
  split_pass: z.object({
    parts: z.number().int(), succeeded: z.number().int(), running: z.number().int(),
    failed: z.number().int().describe('failed, to be retried or (given_up) waiting for the next run of the sync'), given_up: z.number().int(),
    held: z.number().int().describe('waiting for the provider to be configured (see blocked); due again when it is'),
    items: z.array(z.object({
      part: z.string().describe("the part's key (a time window's start)"), window_from: z.string().nullable(), window_to: z.string().nullable(),
      state: z.enum(['pending', 'held', 'queued', 'running', 'failed', 'given_up', 'succeeded'])
        .describe('failed: a retry is due at next_run_at; given_up: out of retries until the next run of the sync; held: see blocked'),
      records: z.number().int().describe('saved by its runs in this pass (added + updated + unchanged)'),
      retry_attempt: z.number().int(), next_run_at: z.string().nullable(), run_id: z.string().nullable().describe('its latest run'),
    })).describe('every part, in window order'),
  }).nullable().describe('A split full pass going on (the sync declares `split`): how its parts stand; null when none'),
});

export const syncRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/syncs/:name/trigger', tag: 'syncs', params: SyncName, body: TriggerBody,
    summary: 'Queue a run of a sync for a connection now ("run now"; full: a full refresh that ignores lastSyncDate and the checkpoint)',
    responses: { 202: { description: 'Queued, or already queued (a full run is then remembered for it)', schema: z.object({ queued: z.boolean(), already_queued: z.boolean(), full: z.boolean() }) } },
  },
  {
    method: 'get', path: '/syncs/:name/status', tag: 'syncs', params: SyncName, query: StatusQuery, summary: 'Where a sync stands for a connection, and how its runs went',
    responses: { 200: { description: 'State, last and next run, stuck/paused flags, success rate and average duration over the window', schema: StatusSchema } },
  },
  ...(['pause', 'resume'] as const).map((action): RouteSpec => ({
    method: 'post', path: `/syncs/:name/${action}`, tag: 'syncs', params: SyncName, body: ConnectionBody, summary: `${action === 'pause' ? 'Pause' : 'Resume'} a sync's schedule for a connection`,
    responses: { 200: { description: 'The new state', schema: z.object({ sync: z.string(), variant: z.string(), provider: z.string(), connection_id: z.string(), paused: z.boolean() }) } },
  })),
  ...(['pause', 'resume'] as const).map((action): RouteSpec => ({
    method: 'post', path: `/connections/:connection_id/syncs/${action}`, tag: 'syncs', params: ConnectionParam, summary: `${action === 'pause' ? 'Pause' : 'Resume'} every sync of a connection (including syncs deployed later)`,
    responses: { 200: { description: 'The new state', schema: z.object({ connection_id: z.string(), paused: z.boolean() }) } },
  })),
  {
    method: 'put', path: '/syncs/:name/schedule', tag: 'syncs', params: SyncName, body: ScheduleBody, summary: "Override a sync's schedule for one connection (null: back to the sync's own)",
    responses: { 200: { description: 'The effective schedule', schema: z.object({ sync: z.string(), variant: z.string(), provider: z.string(), connection_id: z.string(), schedule_override: z.string().nullable(), next_run_at: z.string() }) } },
  },
]);

export function syncRoutes(deps: SyncRouteDeps) {
  const app = new Hono<ApiEnv>();

  /** `address` is `name` or `provider/name`; the connection decides the provider. */
  async function resolve(environmentId: string, address: string, connectionId: string, variant: string) {
    const connection = await deps.connections.get(environmentId, connectionId);
    if (!connection) throw notFound(`connection "${connectionId}"`);
    const script = await findScriptFor(deps.scripts, { environmentId, address, kind: 'sync', connection }).catch((err: unknown) => {
      throw err instanceof ScriptLookupError ? scriptLookupApiError(err) : err;
    });
    const state = await deps.syncState.get(connection.id, script.name, variant);
    if (!state) {
      throw variant === BASE_VARIANT ? notFound(`sync "${script.name}" for connection "${connectionId}"`)
        : notFound(`variant "${variant}" of sync "${script.name}" for connection "${connectionId}" (add it with POST /syncs/${script.name}/variants)`);
    }
    return { script, connection, state, name: script.name };
  }

  app.post('/syncs/:name/trigger', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const body = parseInput(TriggerBody, await jsonBody(c), 'body');
    const environmentId = c.get('environment').id;
    const { connection, name: syncName } = await resolve(environmentId, name, body.connection_id, body.variant);
    // Kept on the state: if a run of the pair is already queued, that run does the full refresh.
    if (body.full) await deps.syncState.requestFull(connection.id, syncName, body.variant);
    const jobId = await deps.enqueueSync({
      connectionId: connection.id, syncName, ...(body.variant !== BASE_VARIANT && { variant: body.variant }),
      trigger: 'manual', full: body.full, environmentId: String(environmentId), provider: connection.provider,
    });
    return c.json({ queued: jobId !== null, already_queued: jobId === null, full: body.full }, 202);
  });

  app.get('/syncs/:name/status', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const q = parseInput(StatusQuery, c.req.query(), 'query');
    const { state, script, connection } = await resolve(c.get('environment').id, name, q.connection_id, q.variant);
    const pair = { connectionId: connection.id, syncName: script.name, variant: q.variant };
    // The parts before the latest run: a part's run settles in its part's transaction, so a part
    // read as settled has its run settled in the later read. The other order could pair a part
    // seen settled with its run seen still running (a pass read as running that cannot run).
    const items = await splitPassParts(deps.sql, pair);
    const progress = splitProgress(items);
    const splitPass = progress && { ...progress, items };
    const [lastRun] = await deps.runs.list({ connectionId: connection.id, scriptName: script.name, variant: q.variant, limit: 1 });
    const connectionPaused = await deps.syncState.isConnectionPaused(connection.id);
    const health = await syncHealth(deps.sql, connection.id, script.name, q.variant, q.window_hours);
    const blocked = scheduledRunBlocker(connection, (await deps.providers.get(connection.environment_id, connection.provider)) !== null);
    const stateName = syncStateName({
      lastRunStatus: lastRun?.status ?? null, paused: state.paused || connectionPaused, blocked: blocked !== null, stuck: health.stuck, splitPass: progress,
    });
    return c.json({
      sync: script.name,
      variant: q.variant,
      provider: script.provider,
      connection_id: q.connection_id,
      version: script.version,
      state: stateName,
      paused: state.paused,
      connection_paused: connectionPaused,
      blocked,
      stuck: health.stuck,
      schedule: state.schedule,
      schedule_override: state.schedule_override,
      frequency_ms: Number(state.frequency_ms),
      next_run_at: state.next_run_at,
      last_sync_date: state.last_sync_date,
      checkpoint: state.checkpoint,
      retry_attempt: state.retry_attempt,
      consecutive_failures: state.consecutive_failures,
      last_run: lastRun ? {
        id: lastRun.id, status: lastRun.status, trigger: lastRun.trigger, full: lastRun.is_full,
        started_at: lastRun.started_at, finished_at: lastRun.finished_at, error: lastRun.error,
        counts: { added: lastRun.added, updated: lastRun.updated, unchanged: lastRun.unchanged, deleted: lastRun.deleted, rejected: lastRun.rejected },
      } : null,
      window_hours: health.window_hours,
      runs_in_window: health.runs_in_window,
      success_rate: health.success_rate,
      avg_duration_ms: health.avg_duration_ms,
      persistent_rejections: health.persistent_rejections,
      split_pass: splitPass,
    });
  });

  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    app.post(`/syncs/:name/${action}`, async (c) => {
      const { name } = parseInput(SyncName, c.req.param(), 'params');
      const body = parseInput(ConnectionBody, await jsonBody(c), 'body');
      const { connection, script } = await resolve(c.get('environment').id, name, body.connection_id, body.variant);
      await deps.syncState.setPaused(connection.id, script.name, paused, body.variant);
      return c.json({ sync: script.name, variant: body.variant, provider: script.provider, connection_id: body.connection_id, paused });
    });

    app.post(`/connections/:connection_id/syncs/${action}`, async (c) => {
      const { connection_id } = parseInput(ConnectionParam, c.req.param(), 'params');
      const connection = await deps.connections.get(c.get('environment').id, connection_id);
      if (!connection) throw notFound(`connection "${connection_id}"`);
      await deps.syncState.setConnectionPaused(connection.id, paused);
      return c.json({ connection_id, paused });
    });
  }

  app.put('/syncs/:name/schedule', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const body = parseInput(ScheduleBody, await jsonBody(c), 'body');
    const { connection, script } = await resolve(c.get('environment').id, name, body.connection_id, body.variant);
    if (body.frequency !== null) {
      try {
        parseSchedule(body.frequency);
      } catch (err) {
        throw new ApiError(400, 'INVALID_INPUT', (err as Error).message, [{ path: ['frequency'], message: (err as Error).message }]);
      }
    }
    await deps.syncState.setScheduleOverride(connection.id, script.name, body.frequency, body.variant);
    const state = await deps.syncState.get(connection.id, script.name, body.variant);
    return c.json({ sync: script.name, variant: body.variant, provider: script.provider, connection_id: body.connection_id, schedule_override: state?.schedule_override ?? null, next_run_at: state?.next_run_at });
  });

  return app;
}
