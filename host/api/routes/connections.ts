/**
 * Providers, connections (credentials go in, never come out), connection metadata, the proxy
 * as a service (for `ferry dryrun`), credential re-encryption and each run's proxied calls.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ProxyRequestSchema } from '@ferry/runtime/contract';
import { BaseUrlError, resolveBase } from '../../connections/base-url.ts';
import { ConnectionPatchSchema, NewConnectionSchema, toPublicConnection, type Connections } from '../../connections/connections.ts';
import { MetadataObjectSchema } from '../../connections/metadata-size.ts';
import { ProviderSchema, type Providers } from '../../connections/providers.ts';
import type { Sql } from '../../db/connect.ts';
import type { Proxy } from '../../proxy/proxy.ts';
import type { RunCalls } from '../../proxy/run-calls.ts';
import type { Runs } from '../../runs/runs.ts';
import type { Parts } from '../../sync/parts.ts';
import type { SyncState } from '../../sync/sync-state.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes, type RouteSpec } from '../openapi/index.ts';

export interface ConnectionRouteDeps {
  sql: Sql;
  connections: Connections;
  providers: Providers;
  /** Split parts held while their provider was missing are due again once it is configured. */
  parts: Pick<Parts, 'releaseHeld'>;
  syncState: SyncState;
  proxy: Proxy;
  runs: Runs;
  runCalls: RunCalls;
}

const ConnectionIdParam = z.object({ id: z.string().min(1).max(255) });
const ConnectionListQuery = z.strictObject({ end_user_id: z.string().min(1).max(255).optional().describe('Only the connections made through connect for this end user') });
const ProviderNameParam = z.object({ name: ProviderSchema.shape.name });
const MetadataSchema = MetadataObjectSchema;
const RunIdParam = z.object({ id: z.string().regex(/^\d{1,19}$/, 'a run id is a number') });
const CallsQuery = z.strictObject({
  after: z.string().regex(/^\d{1,19}$/).default('0'),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

const PublicConnectionSchema = z.looseObject({ connection_id: z.string(), provider: z.string(), metadata: z.unknown(), created_at: z.string(), updated_at: z.string() });
const ok = (description: string, schema?: z.ZodType) => ({ 200: { description, ...(schema ? { schema } : {}) } });

export const connectionRouteSpecs = defineRoutes([
  { method: 'put', path: '/providers/:name', tag: 'providers', params: ProviderNameParam, body: ProviderSchema.omit({ name: true }), summary: 'Create or replace a provider (base URL, auth, pagination, rate limits)', responses: ok('The provider', z.looseObject({ name: z.string() })) },
  { method: 'get', path: '/providers', tag: 'providers', summary: 'Configured providers', responses: ok('Providers', z.object({ providers: z.array(z.looseObject({ name: z.string() })) })) },
  { method: 'get', path: '/providers/:name', tag: 'providers', params: ProviderNameParam, summary: 'One provider', responses: ok('The provider', z.looseObject({ name: z.string() })) },
  { method: 'delete', path: '/providers/:name', tag: 'providers', params: ProviderNameParam, summary: 'Remove a provider', responses: { 204: { description: 'Removed' } } },
  { method: 'post', path: '/connections', tag: 'connections', body: NewConnectionSchema, summary: 'Create a connection (credentials go in, never come out); its syncs are due at once', responses: { 201: { description: 'Created', schema: PublicConnectionSchema }, 200: { description: 'Already existed with the same settings', schema: PublicConnectionSchema } } },
  { method: 'get', path: '/connections', tag: 'connections', query: ConnectionListQuery, summary: 'Connections of the environment (or of one end user)', responses: ok('Connections', z.object({ connections: z.array(PublicConnectionSchema) })) },
  { method: 'get', path: '/connections/:id', tag: 'connections', params: ConnectionIdParam, summary: 'One connection', responses: ok('The connection', PublicConnectionSchema) },
  { method: 'patch', path: '/connections/:id', tag: 'connections', params: ConnectionIdParam, body: ConnectionPatchSchema, summary: 'Change a connection (e.g. new credentials)', responses: ok('The connection', PublicConnectionSchema) },
  { method: 'delete', path: '/connections/:id', tag: 'connections', params: ConnectionIdParam, summary: 'Delete a connection', responses: { 204: { description: 'Deleted' } } },
  { method: 'get', path: '/connections/:id/metadata', tag: 'connections', params: ConnectionIdParam, summary: "A connection's metadata (what scripts read with getMetadata)", responses: ok('Metadata', MetadataSchema) },
  ...(['put', 'patch'] as const).map((method): RouteSpec => ({ method, path: '/connections/:id/metadata', tag: 'connections', params: ConnectionIdParam, body: MetadataSchema, summary: method === 'put' ? 'Replace the metadata' : 'Merge into the metadata (top-level keys)', responses: ok('Metadata', MetadataSchema) })),
  { method: 'post', path: '/connections/:id/proxy', tag: 'connections', params: ConnectionIdParam, body: ProxyRequestSchema, summary: "Send a request to the provider with the connection's credentials (used by ferry dryrun)", responses: ok('The provider response (status, headers, body)', z.looseObject({ status: z.number().int() })) },
  { method: 'post', path: '/credentials/reencrypt', tag: 'connections', summary: "Re-encrypt this environment's connection credentials with the current key", responses: ok('Count', z.object({ reencrypted: z.number().int() })) },
  { method: 'get', path: '/runs/:id/calls', tag: 'runs', params: RunIdParam, query: CallsQuery, summary: 'Proxied provider calls a run made', responses: ok('Calls', z.looseObject({})) },
]);

/** How a proxy failure reads over HTTP. */
const PROXY_ERROR_STATUS: Record<string, 400 | 409 | 429> = {
  INVALID_ENDPOINT: 400,
  ADDRESS_BLOCKED: 400,
  REDIRECT_BLOCKED: 400,
  CREDENTIALS_MISMATCH: 409,
  CONNECTION_REAUTH_REQUIRED: 409,
  RETRY_AFTER: 429,
  INVALID_BASE_URL_OVERRIDE: 400,
  CONNECTION_CONFIG_MISSING: 409,
  CONNECTION_CONFIG_INVALID: 409,
};

/** A connection_config must fill the provider's base URL template: a 400 naming the key, not a failing run later. */
function checkConnectionConfig(provider: Parameters<typeof resolveBase>[0], config: Record<string, unknown>): void {
  try {
    resolveBase(provider, config);
  } catch (err) {
    if (err instanceof BaseUrlError) throw new ApiError(400, err.code, err.message, [{ path: ['body', ...err.path], message: err.message }]);
    throw err;
  }
}

export function connectionRoutes(deps: ConnectionRouteDeps) {
  const app = new Hono<ApiEnv>();

  async function connectionOr404(environmentId: string, id: string) {
    const row = await deps.connections.get(environmentId, id);
    if (!row) throw notFound(`connection "${id}"`);
    return row;
  }

  // ---- providers ----
  app.put('/providers/:name', async (c) => {
    const { name } = parseInput(ProviderNameParam, c.req.param(), 'params');
    const body = parseInput(z.record(z.string(), z.unknown()), await jsonBody(c), 'body');
    const input = parseInput(ProviderSchema, { ...body, name }, 'body');
    const provider = await deps.providers.upsert(c.get('environment').id, input);
    await deps.parts.releaseHeld(c.get('environment').id, name);
    return c.json(provider);
  });

  app.get('/providers', async (c) => c.json({ providers: await deps.providers.list(c.get('environment').id) }));

  app.get('/providers/:name', async (c) => {
    const { name } = parseInput(ProviderNameParam, c.req.param(), 'params');
    const provider = await deps.providers.get(c.get('environment').id, name);
    if (!provider) throw notFound(`provider "${name}"`);
    return c.json(provider);
  });

  app.delete('/providers/:name', async (c) => {
    const { name } = parseInput(ProviderNameParam, c.req.param(), 'params');
    if (!(await deps.providers.remove(c.get('environment').id, name))) throw notFound(`provider "${name}" (built-in entries cannot be deleted)`);
    return c.body(null, 204);
  });

  // ---- connections ----
  app.post('/connections', async (c) => {
    const env = c.get('environment');
    const input = parseInput(NewConnectionSchema, await jsonBody(c), 'body');
    const provider = await deps.providers.get(env.id, input.provider);
    if (!provider) {
      throw new ApiError(400, 'UNKNOWN_PROVIDER', `provider "${input.provider}" is not configured: PUT /providers/${input.provider} first`, [{ path: ['body', 'provider'], message: 'unknown provider' }]);
    }
    checkConnectionConfig(provider, input.connection_config);
    // The connection and its sync schedules appear together: its first runs are due at once.
    const { row, created } = await deps.sql.begin(async (tx) => {
      const result = await deps.connections.create(env.id, input, tx);
      await deps.syncState.ensureForConnection(tx, { environmentId: env.id, connectionId: result.row.id, provider: input.provider });
      // Posting an existing connection stores its credentials anew: syncs passed over for re-authorisation run now.
      if (!result.created) await deps.syncState.resumeAfterReauth(tx, result.row.id);
      return result;
    }).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'CONFLICT') throw new ApiError(409, 'CONFLICT', (err as Error).message);
      throw err;
    });
    return c.json(toPublicConnection(row), created ? 201 : 200);
  });

  app.get('/connections', async (c) => {
    const q = parseInput(ConnectionListQuery, c.req.query(), 'query');
    const rows = await deps.connections.list(c.get('environment').id, { endUserId: q.end_user_id });
    return c.json({ connections: rows.map(toPublicConnection) });
  });

  app.get('/connections/:id', async (c) => {
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    return c.json(toPublicConnection(await connectionOr404(c.get('environment').id, id)));
  });

  app.patch('/connections/:id', async (c) => {
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    const patch = parseInput(ConnectionPatchSchema, await jsonBody(c), 'body');
    if (patch.connection_config) {
      const current = await connectionOr404(c.get('environment').id, id);
      const provider = await deps.providers.get(c.get('environment').id, current.provider);
      if (provider) checkConnectionConfig(provider, patch.connection_config);
    }
    const row = await deps.connections.update(c.get('environment').id, id, patch);
    if (!row) throw notFound(`connection "${id}"`);
    // New credentials clear re-authorisation: the syncs the scheduler passed over run now.
    if (patch.credentials) await deps.syncState.resumeAfterReauth(deps.sql, row.id);
    return c.json(toPublicConnection(row));
  });

  app.delete('/connections/:id', async (c) => {
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    if (!(await deps.connections.remove(c.get('environment').id, id))) throw notFound(`connection "${id}"`);
    return c.body(null, 204);
  });

  // ---- metadata: the same store scripts read with getMetadata/setMetadata/updateMetadata ----
  app.get('/connections/:id/metadata', async (c) => {
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    return c.json((await connectionOr404(c.get('environment').id, id)).metadata ?? {});
  });

  for (const [method, merge] of [['put', false], ['patch', true]] as const) {
    app[method]('/connections/:id/metadata', async (c) => {
      const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
      const metadata = parseInput(MetadataSchema, await jsonBody(c), 'body');
      const row = await connectionOr404(c.get('environment').id, id);
      await deps.connections.setMetadata(row.id, metadata, merge);
      return c.json((await deps.connections.getById(row.id))?.metadata ?? {});
    });
  }

  // The proxy as a service: `ferry dryrun` runs scripts locally but reaches providers through the
  // host, which alone holds the credentials.
  app.post('/connections/:id/proxy', async (c) => {
    const env = c.get('environment');
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    const request = parseInput(ProxyRequestSchema, await jsonBody(c), 'body');
    const row = await connectionOr404(env.id, id);
    const provider = await deps.providers.get(env.id, row.provider);
    if (!provider) throw new ApiError(409, 'UNKNOWN_PROVIDER', `provider "${row.provider}" is not configured`);
    try {
      return c.json(await deps.proxy.request({ provider, connection: row }, request));
    } catch (err) {
      const { code, retryAfterMs } = err as { code?: unknown; retryAfterMs?: unknown };
      if (typeof code !== 'string') throw err;
      if (typeof retryAfterMs === 'number') c.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
      const issues = err instanceof BaseUrlError && err.code === 'INVALID_BASE_URL_OVERRIDE' ? [{ path: ['body', ...err.path], message: err.message }] : undefined;
      throw new ApiError(PROXY_ERROR_STATUS[code] ?? 502, code, (err as Error).message, issues);
    }
  });

  // Key rotation: re-encrypt every connection's credentials under the current key.
  // Scoped to the caller's environment: one tenant's key never touches another's rows.
  app.post('/credentials/reencrypt', async (c) => c.json({ reencrypted: await deps.connections.reencrypt(c.get('environment').id) }));

  // ---- what a run asked of providers ----
  app.get('/runs/:id/calls', async (c) => {
    const { id } = parseInput(RunIdParam, c.req.param(), 'params');
    const q = parseInput(CallsQuery, c.req.query(), 'query');
    const run = await deps.runs.get(id);
    const connection = run ? await deps.connections.getById(run.connection_id) : null;
    if (!run || connection?.environment_id !== c.get('environment').id) throw notFound(`run ${id}`);
    const calls = await deps.runCalls.list(id, q.after, q.limit);
    return c.json({ calls, next_after: calls.length === q.limit ? calls.at(-1)!.id : null });
  });

  return app;
}
