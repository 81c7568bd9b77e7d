import { Hono } from 'hono';
import { z } from 'zod';
import type { ConnectionRow, Connections } from '../../connections/connections.ts';
import { parseScriptAddress } from '../../deploy/script-address.ts';
import { nameForConnection } from './script-param.ts';
import type { RunRow, Runs } from '../../runs/runs.ts';
import { VariantName } from '../../sync/variants.ts';
import type { ApiEnv } from '../app.ts';
import { notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface RunRouteDeps {
  connections: Connections;
  runs: Runs;
}

const RunsQuery = z.strictObject({
  connection_id: z.string().min(1).max(255),
  /** A script name, or provider/name (the provider must be the connection's). */
  sync: z.string().max(164).refine((text) => parseScriptAddress(text) !== null, 'a script name, optionally as provider/name').optional(),
  variant: VariantName.optional().describe("Only this sync variant's runs (base for the default one)"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().regex(/^\d{1,19}$/).optional(),
});
const RunIdParam = z.object({ id: z.string().regex(/^\d{1,19}$/, 'a run id is a number') });
const LogsQuery = z.strictObject({
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

const RunSchema = z.object({
  id: z.string(),
  connection_id: z.string(),
  sync: z.string().describe('The script name (a sync or an action)'),
  provider: z.string().describe("The script's provider (the connection's)"),
  variant: z.string().describe("A sync run's variant ('base' unless the sync has variants; 'base' for actions and webhooks)"),
  part: z.string().nullable().describe('The part of a split full pass this run read (its time window\'s start, or the key `split.partitions` listed); null for other runs'),
  kind: z.string(),
  version: z.number().int(),
  status: z.enum(['running', 'succeeded', 'failed']),
  trigger: z.string(),
  full: z.boolean(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  counts: z.object({ added: z.number(), updated: z.number(), unchanged: z.number(), deleted: z.number(), rejected: z.number() }),
  usage: z.object({ wall_ms: z.number(), cpu_ms: z.number().nullable(), peak_heap_bytes: z.number(), bridge_bytes: z.number(), proxy_calls: z.number().nullable() }).nullable(),
  error: z.record(z.string(), z.unknown()).nullable(),
  memory_limit_mb: z.number().int().nullable().describe("The isolate's memory limit the run had (null for runs from before it was recorded)"),
  fetch_window: z.object({
    last_sync_date: z.string().nullable().describe('The lastSyncDate the run was given (null: everything, e.g. a first or full run)'),
    checkpoint: z.record(z.string(), z.unknown()).nullable().describe('The checkpoint it resumed from'),
  }).nullable().describe('What a sync run fetched from; null for actions and webhooks'),
  warnings: z.array(z.object({ code: z.string(), model: z.string(), message: z.string(), held: z.number(), live: z.number() }))
    .describe('A run that succeeded but wants attention (DELETES_HELD: the mass-delete guard held deletes)'),
  model_counts: z.record(z.string(), z.object({ added: z.number(), updated: z.number(), deleted: z.number() })).nullable()
    .describe("A settled sync run's changes per model (a succeeded run lists every declared model); null while running, and for actions and webhooks"),
});
const RejectedQuery = z.strictObject({
  after: z.string().regex(/^\d{1,19}$/).default('0'),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
const RejectedSchema = z.object({ seq: z.string(), model: z.string(), record_id: z.string().nullable(), reason: z.string(), rejected_at: z.string() });
const LogSchema = z.object({ seq: z.number().int(), level: z.string(), message: z.string(), at: z.string() });

export const runRouteSpecs = defineRoutes([
  {
    method: 'get', path: '/runs', tag: 'runs', query: RunsQuery, summary: "A connection's runs, newest first",
    responses: { 200: { description: 'A page of runs; pass next_before as before to continue', schema: z.object({ runs: z.array(RunSchema), next_before: z.string().nullable() }) } },
  },
  { method: 'get', path: '/runs/:id', tag: 'runs', params: RunIdParam, summary: 'One run', responses: { 200: { description: 'The run', schema: RunSchema } } },
  {
    method: 'get', path: '/runs/:id/logs', tag: 'runs', params: RunIdParam, query: LogsQuery, summary: "A run's logs, in order",
    responses: { 200: { description: 'Log lines after `after`', schema: z.object({ logs: z.array(LogSchema), next_after: z.number().int() }) } },
  },
  {
    method: 'get', path: '/runs/:id/rejected', tag: 'runs', params: RunIdParam, query: RejectedQuery, summary: 'Records a run produced that were refused, with the reason',
    responses: { 200: { description: 'Rejected records after `after`; pass next_after to continue', schema: z.object({ rejected: z.array(RejectedSchema), next_after: z.string().nullable() }) } },
  },
]);

function presentRun(run: RunRow, connection: Pick<ConnectionRow, 'connection_id' | 'provider'>) {
  return {
    id: run.id,
    connection_id: connection.connection_id,
    sync: run.script_name,
    provider: connection.provider,
    variant: run.variant,
    part: run.part,
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
    memory_limit_mb: run.memory_limit_mb,
    fetch_window: run.kind === 'sync' ? { last_sync_date: run.fetch_since, checkpoint: run.fetch_checkpoint } : null,
    warnings: run.warnings ?? [],
    model_counts: run.model_counts ?? null,
  };
}

export function runRoutes(deps: RunRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.get('/runs', async (c) => {
    const q = parseInput(RunsQuery, c.req.query(), 'query');
    const connection = await deps.connections.get(c.get('environment').id, q.connection_id);
    if (!connection) throw notFound(`connection "${q.connection_id}"`);
    const scriptName = q.sync === undefined ? undefined : nameForConnection(q.sync, connection, ['query', 'sync']);
    const runs = await deps.runs.list({ connectionId: connection.id, scriptName, variant: q.variant, limit: q.limit, beforeId: q.before });
    return c.json({
      runs: runs.map((r) => presentRun(r, connection)),
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
    return c.json(presentRun(run, connection));
  });

  app.get('/runs/:id/logs', async (c) => {
    const { id } = parseInput(RunIdParam, c.req.param(), 'params');
    const q = parseInput(LogsQuery, c.req.query(), 'query');
    await ownRun(c.get('environment').id, id);
    const logs = await deps.runs.logs(id, q.after, q.limit);
    return c.json({ logs, next_after: logs.length > 0 ? logs.at(-1)!.seq : q.after });
  });

  app.get('/runs/:id/rejected', async (c) => {
    const { id } = parseInput(RunIdParam, c.req.param(), 'params');
    const q = parseInput(RejectedQuery, c.req.query(), 'query');
    await ownRun(c.get('environment').id, id);
    const rejected = await deps.runs.rejected(id, q.after, q.limit);
    return c.json({ rejected, next_after: rejected.length === q.limit ? rejected.at(-1)!.seq : null });
  });

  return app;
}
