/**
 * The HTTP API apps and the CLI use. Every route but the operator ones (/healthz, /metrics,
 * /openapi.json) needs an environment's secret key; every input is validated with zod; every
 * error is JSON. Each route file exports its specs (openapi/route-spec.ts): list them in
 * ROUTE_SPECS, and test/api/openapi.test.ts fails for any registered route without one.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import type { Environment, Environments } from '../tenancy/environments.ts';
import { bearerKey, unknownKey } from './auth.ts';
import { checkRequestValue, errorBody, renderError } from './errors.ts';
import { requestBodyLimit } from './body-limit.ts';
import { refuseUnknownQueryParameters } from './query-params.ts';
import { buildOpenApiDocument, defineRoutes, type RouteSpec } from './openapi/index.ts';
import { actionRoutes, actionRouteSpecs, type ActionRouteDeps } from './routes/actions.ts';
import { connectPageRouteSpecs, connectRoutes, type ConnectRouteDeps } from '../connect/routes.ts';
import { connectApiRoutes, connectApiRouteSpecs, type ConnectApiRouteDeps } from './routes/connect.ts';
import { connectionRoutes, connectionRouteSpecs, type ConnectionRouteDeps } from './routes/connections.ts';
import { deployRoutes, deployRouteSpecs, type DeployRouteDeps } from './routes/deploy.ts';
import { adminRoutes, environmentRoutes, environmentRouteSpecs, type EnvironmentRouteDeps } from './routes/environments.ts';
import { healthRoutes, healthRouteSpecs, type HealthRouteDeps } from './routes/health.ts';
import { recordRoutes, recordRouteSpecs, type RecordRouteDeps } from './routes/records.ts';
import { runRoutes, runRouteSpecs, type RunRouteDeps } from './routes/runs.ts';
import { syncRoutes, syncRouteSpecs, type SyncRouteDeps } from './routes/syncs.ts';
import { heldDeleteRoutes, heldDeleteRouteSpecs, type HeldDeleteRouteDeps } from './routes/held-deletes.ts';
import { unseenRecordRoutes, unseenRecordRouteSpecs, type UnseenRecordRouteDeps } from './routes/records-unseen.ts';
import { syncVariantRoutes, syncVariantRouteSpecs } from './routes/sync-variants.ts';
import { environmentSettingsRoutes, environmentSettingsRouteSpecs } from './routes/environment-settings.ts';
import { webhookReceiverRoutes, webhookRouteSpecs, webhookRoutes, type WebhookRouteDeps } from './routes/webhooks.ts';

export type ApiEnv = { Variables: { environment: Environment } };

export type ApiDeps = { environments: Environments; logger: Logger } & ConnectionRouteDeps & DeployRouteDeps & RecordRouteDeps & RunRouteDeps & SyncRouteDeps
  & ActionRouteDeps & EnvironmentRouteDeps & WebhookRouteDeps & HealthRouteDeps & ConnectRouteDeps & ConnectApiRouteDeps & HeldDeleteRouteDeps & UnseenRecordRouteDeps;

const openApiSpecs = defineRoutes([{
  method: 'get', path: '/openapi.json', tag: 'operations', auth: false,
  summary: 'This document: OpenAPI 3.1, generated from the zod schemas that validate each route',
  responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
}]);

/** Every route's contract; the OpenAPI document is built from this list. */
export const ROUTE_SPECS: readonly RouteSpec[] = [
  ...actionRouteSpecs,
  ...environmentRouteSpecs,
  ...webhookRouteSpecs,
  ...openApiSpecs,
  ...healthRouteSpecs,
  ...deployRouteSpecs,
  ...connectionRouteSpecs,
  ...recordRouteSpecs,
  ...unseenRecordRouteSpecs,
  ...runRouteSpecs,
  ...syncRouteSpecs,
  ...syncVariantRouteSpecs,
  ...heldDeleteRouteSpecs,
  ...environmentSettingsRouteSpecs,
  ...connectApiRouteSpecs,
  ...connectPageRouteSpecs,
];

export const API_VERSION = '1';

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const log = deps.logger.child({ module: 'api' });

  app.onError((err, c) => {
    const response = renderError(c, err);
    if (response.status >= 500) log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled API error');
    return response;
  });
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404));

  // The edge rule holds for every route's query, including routes that read it themselves
  // (pages, the OAuth callback); params and bodies are checked as each route parses them.
  app.use('*', async (c, next) => {
    const queries = c.req.queries();
    checkRequestValue(Object.fromEntries(Object.entries(queries).map(([key, values]) => [key, values.length === 1 ? values[0] : values])), 'query');
    await next();
  });
  app.use('*', refuseUnknownQueryParameters(ROUTE_SPECS));

  // Operator endpoints, before authentication.
  app.route('/', healthRoutes(deps));
  let openApiDocument: string | null = null;
  app.get('/openapi.json', (c) => {
    openApiDocument ??= JSON.stringify(buildOpenApiDocument(ROUTE_SPECS, { title: 'Ferry API', version: API_VERSION }));
    return c.body(openApiDocument, 200, { 'content-type': 'application/json; charset=utf-8' });
  });

  app.use('*', requestBodyLimit());
  // Authenticated otherwise: the admin key (environments) and provider signatures (webhooks).
  app.route('/', adminRoutes(deps));
  app.route('/', webhookReceiverRoutes(deps));
  // The hosted connect page and the OAuth callback authenticate with a connect session.
  app.route('/', connectRoutes(deps));
  // GET /records authenticates itself, resolving the key and its connection in one query.
  app.route('/', recordRoutes(deps));
  app.use('*', async (c, next) => {
    const environment = await deps.environments.findByKey(bearerKey(c));
    if (!environment) throw unknownKey();
    c.set('environment', environment);
    await next();
  });

  app.route('/', deployRoutes(deps));
  app.route('/', connectionRoutes(deps));
  app.route('/', connectApiRoutes(deps));
  app.route('/', runRoutes(deps));
  app.route('/', syncRoutes(deps));
  app.route('/', syncVariantRoutes(deps));
  app.route('/', heldDeleteRoutes(deps));
  app.route('/', unseenRecordRoutes(deps));
  app.route('/', environmentSettingsRoutes(deps));
  app.route('/', actionRoutes(deps));
  app.route('/', environmentRoutes(deps));
  app.route('/', webhookRoutes(deps));
  return app;
}
