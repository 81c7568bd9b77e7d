import { Hono } from 'hono';
import { z } from 'zod';
import { ProxyRequestSchema } from '../../../runtime/contract.ts';
import { NewConnectionSchema, toPublicConnection, type Connections } from '../../connections/connections.ts';
import { ProviderSchema, type Providers } from '../../connections/providers.ts';
import type { Sql } from '../../db/connect.ts';
import { ProxyError, type Proxy } from '../../proxy/proxy.ts';
import type { SyncState } from '../../sync/sync-state.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';

export interface ConnectionRouteDeps {
  sql: Sql;
  connections: Connections;
  providers: Providers;
  syncState: SyncState;
  proxy: Proxy;
}

const ConnectionIdParam = z.object({ id: z.string().min(1).max(255) });

export function connectionRoutes(deps: ConnectionRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.put('/providers/:name', async (c) => {
    const body = parseInput(z.record(z.string(), z.unknown()), await jsonBody(c), 'body');
    const provider = parseInput(ProviderSchema, { ...body, name: c.req.param('name') }, 'body');
    await deps.providers.upsert(c.get('environment').id, provider);
    return c.json(provider);
  });

  app.get('/providers', async (c) => c.json({ providers: await deps.providers.list(c.get('environment').id) }));

  app.post('/connections', async (c) => {
    const env = c.get('environment');
    const input = parseInput(NewConnectionSchema, await jsonBody(c), 'body');
    if (!(await deps.providers.get(env.id, input.provider))) {
      throw new ApiError(400, 'UNKNOWN_PROVIDER', `provider "${input.provider}" is not configured: PUT /providers/${input.provider} first`, [{ path: ['body', 'provider'], message: 'unknown provider' }]);
    }
    // The connection and its sync schedules appear together: its first runs are due at once.
    const { row, created } = await deps.sql.begin(async (tx) => {
      const result = await deps.connections.create(env.id, input, tx);
      await deps.syncState.ensureForConnection(tx, { environmentId: env.id, connectionId: result.row.id, provider: input.provider });
      return result;
    }).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'CONFLICT') throw new ApiError(409, 'CONFLICT', (err as Error).message);
      throw err;
    });
    return c.json(toPublicConnection(row), created ? 201 : 200);
  });

  app.get('/connections', async (c) => {
    const rows = await deps.connections.list(c.get('environment').id);
    return c.json({ connections: rows.map(toPublicConnection) });
  });

  app.get('/connections/:id', async (c) => {
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    const row = await deps.connections.get(c.get('environment').id, id);
    if (!row) throw notFound(`connection "${id}"`);
    return c.json(toPublicConnection(row));
  });

  app.delete('/connections/:id', async (c) => {
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    if (!(await deps.connections.remove(c.get('environment').id, id))) throw notFound(`connection "${id}"`);
    return c.body(null, 204);
  });

  // The proxy as a service: `ferry dryrun` runs scripts locally but reaches providers through the
  // host, which alone holds the credentials.
  app.post('/connections/:id/proxy', async (c) => {
    const env = c.get('environment');
    const { id } = parseInput(ConnectionIdParam, c.req.param(), 'params');
    const request = parseInput(ProxyRequestSchema, await jsonBody(c), 'body');
    const row = await deps.connections.get(env.id, id);
    if (!row) throw notFound(`connection "${id}"`);
    const provider = await deps.providers.get(env.id, row.provider);
    if (!provider) throw new ApiError(409, 'UNKNOWN_PROVIDER', `provider "${row.provider}" is not configured`);
    try {
      return c.json(await deps.proxy.request({ provider, credentials: await deps.connections.credentials(row.id) }, request));
    } catch (err) {
      if (err instanceof ProxyError) throw new ApiError(err.code === 'INVALID_ENDPOINT' ? 400 : 502, err.code, err.message);
      throw err;
    }
  });

  return app;
}
