/**
 * The HTTP API apps and the CLI use. Every route but /healthz needs an environment's secret key;
 * every input is validated with zod; every error is JSON.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '../logger.ts';
import type { Environment, Environments } from '../tenancy/environments.ts';
import { ApiError, errorBody, renderError } from './errors.ts';
import { connectionRoutes, type ConnectionRouteDeps } from './routes/connections.ts';
import { deployRoutes, type DeployRouteDeps } from './routes/deploy.ts';
import { recordRoutes, type RecordRouteDeps } from './routes/records.ts';
import { runRoutes, type RunRouteDeps } from './routes/runs.ts';
import { syncRoutes, type SyncRouteDeps } from './routes/syncs.ts';

export type ApiEnv = { Variables: { environment: Environment } };

export type ApiDeps = { environments: Environments; logger: Logger } & ConnectionRouteDeps & DeployRouteDeps & RecordRouteDeps & RunRouteDeps & SyncRouteDeps;

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const log = deps.logger.child({ module: 'api' });

  app.onError((err, c) => {
    if (!(err instanceof ApiError)) log.error({ err, path: c.req.path }, 'unhandled API error');
    return renderError(c, err);
  });
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404));

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use('*', bodyLimit({
    maxSize: 8 * 1024 * 1024,
    onError: (c) => c.json(errorBody('PAYLOAD_TOO_LARGE', 'request body exceeds 8 MiB'), 413),
  }));
  app.use('*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const key = /^Bearer\s+(.+)$/i.exec(header)?.[1];
    if (!key) throw new ApiError(401, 'UNAUTHORIZED', 'missing "Authorization: Bearer <secret key>" header');
    const environment = await deps.environments.findByKey(key.trim());
    if (!environment) throw new ApiError(401, 'UNAUTHORIZED', 'unknown or revoked secret key');
    c.set('environment', environment);
    await next();
  });

  app.route('/', deployRoutes(deps));
  app.route('/', connectionRoutes(deps));
  app.route('/', recordRoutes(deps));
  app.route('/', runRoutes(deps));
  app.route('/', syncRoutes(deps));
  return app;
}
