/**
 * Sync variants through the API (host/sync/variants.ts): list a sync's variants on a connection,
 * add one (its own schedule, state and records from its first run), remove one (its state goes
 * and its records are marked deleted, in one transaction; a run of it still going is settled so
 * it writes nothing more).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Connections } from '../../connections/connections.ts';
import type { Sql } from '../../db/connect.ts';
import { findScriptFor, ScriptLookupError } from '../../deploy/script-lookup.ts';
import type { Scripts } from '../../deploy/scripts.ts';
import { deleteVariantRecords } from '../../store/records-deletes.ts';
import { parseSchedule } from '../../sync/frequency.ts';
import type { SyncState, SyncStateRow } from '../../sync/sync-state.ts';
import { BASE_VARIANT, storedModel, VariantName } from '../../sync/variants.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';
import { ScriptAddressParam, scriptLookupApiError } from './script-param.ts';

export interface SyncVariantRouteDeps {
  sql: Sql;
  connections: Connections;
  scripts: Scripts;
  syncState: SyncState;
}

const SyncName = ScriptAddressParam('sync');
const VariantParams = SyncName.extend({ variant: VariantName });
const ConnectionQuery = z.strictObject({ connection_id: z.string().min(1).max(255) });
const AddBody = z.strictObject({
  connection_id: z.string().min(1).max(255),
  variant: VariantName.describe('The new variant\'s name, which its runs read as `nango.variant` (a mailbox, a repo, …)'),
  /** This variant's own schedule; absent = the sync's. */
  frequency: z.string().min(1).max(200).nullable().default(null),
});

const VariantSchema = z.object({
  variant: z.string(),
  paused: z.boolean(),
  schedule: z.string().nullable(),
  schedule_override: z.string().nullable(),
  next_run_at: z.string(),
  last_sync_date: z.string().nullable(),
});

export const syncVariantRouteSpecs = defineRoutes([
  {
    method: 'get', path: '/syncs/:name/variants', tag: 'syncs', params: SyncName, query: ConnectionQuery,
    summary: 'The variants of a sync on a connection (base first)',
    responses: { 200: { description: 'Each variant with its schedule and lastSyncDate', schema: z.object({ sync: z.string(), connection_id: z.string(), variants: z.array(VariantSchema) }) } },
  },
  {
    method: 'post', path: '/syncs/:name/variants', tag: 'syncs', params: SyncName, body: AddBody,
    summary: 'Add a variant: an independent copy of the sync on the connection, with its own state, checkpoint, schedule and records',
    description: 'It runs at once unless the sync does not auto-start. 409 VARIANT_EXISTS when the connection already has it.',
    responses: { 201: { description: 'The new variant', schema: VariantSchema.extend({ sync: z.string(), connection_id: z.string() }) } },
  },
  {
    method: 'delete', path: '/syncs/:name/variants/:variant', tag: 'syncs', params: VariantParams, query: ConnectionQuery,
    summary: 'Remove a variant: its state goes and its records are marked deleted (an app reading them sees the deletes)',
    description: 'The base variant cannot be removed (409 BASE_VARIANT).',
    responses: { 200: { description: 'Removed', schema: z.object({ sync: z.string(), variant: z.string(), connection_id: z.string(), deleted_records: z.number().int() }) } },
  },
]);

const variantBody = (row: SyncStateRow) => ({
  variant: row.variant,
  paused: row.paused,
  schedule: row.schedule,
  schedule_override: row.schedule_override,
  next_run_at: row.next_run_at.toISOString(),
  last_sync_date: row.last_sync_date?.toISOString() ?? null,
});

const VARIANT_REMOVED = { kind: 'internal', code: 'VARIANT_REMOVED', message: 'the sync variant was removed while this run was going' };

export function syncVariantRoutes(deps: SyncVariantRouteDeps) {
  const app = new Hono<ApiEnv>();

  /** `address` is `name` or `provider/name`; the connection decides the provider. */
  async function resolve(environmentId: string, address: string, connectionId: string) {
    const connection = await deps.connections.get(environmentId, connectionId);
    if (!connection) throw notFound(`connection "${connectionId}"`);
    const script = await findScriptFor(deps.scripts, { environmentId, address, kind: 'sync', connection }).catch((err: unknown) => {
      throw err instanceof ScriptLookupError ? scriptLookupApiError(err) : err;
    });
    if (script.manifest.type !== 'sync') throw notFound(`sync "${address}"`);
    if (!(await deps.syncState.get(connection.id, script.name))) throw notFound(`sync "${script.name}" for connection "${connectionId}"`);
    return { manifest: script.manifest, connection, name: script.name };
  }

  app.get('/syncs/:name/variants', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const q = parseInput(ConnectionQuery, c.req.query(), 'query');
    const { connection, name: sync } = await resolve(c.get('environment').id, name, q.connection_id);
    const rows = await deps.syncState.variants(connection.id, sync);
    return c.json({ sync, connection_id: q.connection_id, variants: rows.map(variantBody) });
  });

  app.post('/syncs/:name/variants', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const body = parseInput(AddBody, await jsonBody(c), 'body');
    const { manifest, connection, name: sync } = await resolve(c.get('environment').id, name, body.connection_id);
    if (body.frequency !== null) {
      try {
        parseSchedule(body.frequency);
      } catch (err) {
        throw new ApiError(400, 'INVALID_INPUT', (err as Error).message, [{ path: ['frequency'], message: (err as Error).message }]);
      }
    }
    const added = await deps.sql.begin((tx) => deps.syncState.addVariant(tx, {
      connectionId: connection.id, syncName: sync, variant: body.variant, frequency: body.frequency, autoStart: manifest.autoStart,
    }));
    if (!added) throw new ApiError(409, 'VARIANT_EXISTS', `connection "${body.connection_id}" already has variant "${body.variant}" of sync "${sync}"`, [{ path: ['variant'], message: 'already exists' }]);
    const row = await deps.syncState.get(connection.id, sync, body.variant);
    return c.json({ sync, connection_id: body.connection_id, ...variantBody(row!) }, 201);
  });

  app.delete('/syncs/:name/variants/:variant', async (c) => {
    const { name, variant } = parseInput(VariantParams, c.req.param(), 'params');
    const q = parseInput(ConnectionQuery, c.req.query(), 'query');
    if (variant === BASE_VARIANT) throw new ApiError(409, 'BASE_VARIANT', `the base variant of a sync cannot be removed (pause it, or remove the sync from the deploy)`, [{ path: ['variant'], message: 'is base' }]);
    const { manifest, connection, name: sync } = await resolve(c.get('environment').id, name, q.connection_id);
    const deleted = await deps.sql.begin(async (tx) => {
      if (!(await deps.syncState.removeVariant(tx, connection.id, sync, variant))) return null;
      // Settling its live run fences it (host/runs/run-fence.ts): nothing it writes after this lands.
      await tx`
        update runs set status = 'failed', finished_at = now(), error = ${JSON.stringify(VARIANT_REMOVED)}::text::jsonb
        where connection_id = ${connection.id} and script_name = ${sync} and variant = ${variant} and kind = 'sync' and status = 'running'`;
      return deleteVariantRecords(tx, { connectionId: connection.id, syncName: sync, models: manifest.models.map((m) => storedModel(m, variant)) });
    });
    if (deleted === null) throw notFound(`variant "${variant}" of sync "${sync}" for connection "${q.connection_id}"`);
    return c.json({ sync, variant, connection_id: q.connection_id, deleted_records: deleted });
  });

  return app;
}
