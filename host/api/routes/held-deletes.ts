/**
 * Deletes the mass-delete guard held (host/store/records-deletes.ts): list them, apply them or
 * discard them, per (connection, sync, variant) and optionally one model. Applying them tells the
 * app as a run's deletes do: a `sync` webhook per model with deletes, written in the transaction
 * that deletes.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { ConnectionRow, Connections } from '../../connections/connections.ts';
import type { Sql } from '../../db/connect.ts';
import { applyHeld, discardHeld, listHeld, type AppliedHeld } from '../../store/records-deletes.ts';
import type { SyncWebhook, WebhookOutbox } from '../../webhooks-out/deliveries.ts';
import { BASE_VARIANT, splitStoredModel, storedModel, VariantName } from '../../sync/variants.ts';
import type { ApiEnv } from '../app.ts';
import { jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';
import { nameForConnection, ScriptAddressParam } from './script-param.ts';

export interface HeldDeleteRouteDeps {
  sql: Sql;
  connections: Connections;
  webhookOutbox: Pick<WebhookOutbox, 'publish'>;
}

/** The `sync` events of an apply: the shape a run's deletes send, under the run that held them. */
function appliedEvents(connection: ConnectionRow, syncName: string, applied: AppliedHeld[], at: Date): SyncWebhook[] {
  return applied.filter((a) => a.deleted > 0).map((a) => {
    const { model, variant } = splitStoredModel(a.model);
    return {
      type: 'sync', from: 'ferry', connection_id: connection.connection_id, provider: connection.provider, sync_name: syncName,
      ...(variant !== BASE_VARIANT && { variant }), model, sync_type: 'full', run_id: a.runId,
      counts: { added: 0, updated: 0, deleted: a.deleted }, cursor: a.cursorBefore, modified_after: at.toISOString(),
    };
  });
}

const SyncName = ScriptAddressParam('sync');
const Variant = VariantName.default(BASE_VARIANT).describe('The sync variant (default base)');
const HeldQuery = z.strictObject({ connection_id: z.string().min(1).max(255), variant: Variant });
const HeldBody = z.strictObject({
  connection_id: z.string().min(1).max(255),
  variant: Variant,
  /** Only this model's held deletes; absent = every model of the sync. */
  model: z.string().min(1).max(200).optional(),
});
const HeldSchema = z.object({ model: z.string(), count: z.number().int(), run_id: z.string(), held_at: z.string() });

export const heldDeleteRouteSpecs = defineRoutes([
  {
    method: 'get', path: '/syncs/:name/held-deletes', tag: 'syncs', params: SyncName, query: HeldQuery,
    summary: 'Deletes the mass-delete guard held for a connection, per model',
    responses: { 200: { description: 'Held deletes per model (empty when none)', schema: z.object({ held: z.array(HeldSchema) }) } },
  },
  {
    method: 'post', path: '/syncs/:name/held-deletes/apply', tag: 'syncs', params: SyncName, body: HeldBody,
    summary: 'Apply held deletes (records saved again since they were held are kept)',
    responses: { 200: { description: 'Records deleted per model', schema: z.object({ applied: z.array(z.object({ model: z.string(), deleted: z.number().int(), run_id: z.string() })) }) } },
  },
  {
    method: 'post', path: '/syncs/:name/held-deletes/discard', tag: 'syncs', params: SyncName, body: HeldBody,
    summary: 'Discard held deletes: the records stay',
    responses: { 200: { description: 'How many held deletes were discarded', schema: z.object({ discarded: z.number().int() }) } },
  },
]);

export function heldDeleteRoutes(deps: HeldDeleteRouteDeps) {
  const app = new Hono<ApiEnv>();

  async function connectionOf(environmentId: string, connectionId: string) {
    const connection = await deps.connections.get(environmentId, connectionId);
    if (!connection) throw notFound(`connection "${connectionId}"`);
    return connection;
  }

  /** The variant's held deletes, named by their declared model. */
  async function heldOf(connectionId: string, syncName: string, variant: string) {
    const held = await listHeld(deps.sql, connectionId, syncName);
    return held.filter((h) => splitStoredModel(h.model).variant === variant);
  }

  /** What an apply or discard covers: one model of the variant, or every model it holds deletes of. */
  async function targetOf(connectionId: string, syncName: string, body: z.infer<typeof HeldBody>) {
    const models = body.model !== undefined ? [storedModel(body.model, body.variant)] : (await heldOf(connectionId, syncName, body.variant)).map((h) => h.model);
    return { connectionId, syncName, models };
  }

  app.get('/syncs/:name/held-deletes', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const q = parseInput(HeldQuery, c.req.query(), 'query');
    const connection = await connectionOf(c.get('environment').id, q.connection_id);
    const held = await heldOf(connection.id, nameForConnection(name, connection, ['params', 'name']), q.variant);
    return c.json({ held: held.map((h) => ({ ...h, model: splitStoredModel(h.model).model, held_at: h.held_at.toISOString() })) });
  });

  app.post('/syncs/:name/held-deletes/apply', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const body = parseInput(HeldBody, await jsonBody(c), 'body');
    const connection = await connectionOf(c.get('environment').id, body.connection_id);
    const syncName = nameForConnection(name, connection, ['params', 'name']);
    const at = new Date();
    const applied = await applyHeld(deps.sql, await targetOf(connection.id, syncName, body),
      (tx, done) => deps.webhookOutbox.publish(tx, connection.environment_id, appliedEvents(connection, syncName, done, at)));
    return c.json({ applied: applied.map((a) => ({ model: splitStoredModel(a.model).model, deleted: a.deleted, run_id: a.runId })) });
  });

  app.post('/syncs/:name/held-deletes/discard', async (c) => {
    const { name } = parseInput(SyncName, c.req.param(), 'params');
    const body = parseInput(HeldBody, await jsonBody(c), 'body');
    const connection = await connectionOf(c.get('environment').id, body.connection_id);
    return c.json({ discarded: await discardHeld(deps.sql, await targetOf(connection.id, nameForConnection(name, connection, ['params', 'name']), body)) });
  });

  return app;
}
