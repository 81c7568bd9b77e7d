/** Unauthenticated operator endpoints: liveness with a database check, Prometheus metrics. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Sql } from '../../db/connect.ts';
import type { Logger } from '../../logger.ts';
import { createMetricsCollector, PROMETHEUS_CONTENT_TYPE, renderMetrics } from '../../metrics/index.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface HealthRouteDeps {
  sql: Sql;
  logger: Logger;
}

const HEALTH_TIMEOUT_MS = 2_000;

const HealthSchema = z.object({ ok: z.boolean(), database: z.enum(['ok', 'unreachable']) });

export const healthRouteSpecs = defineRoutes([
  {
    method: 'get', path: '/healthz', tag: 'operations', auth: false,
    summary: 'Liveness: the process serves HTTP and reaches its database',
    responses: { 200: { description: 'Healthy', schema: HealthSchema }, 503: { description: 'The database is unreachable', schema: HealthSchema } },
  },
  {
    method: 'get', path: '/metrics', tag: 'operations', auth: false,
    summary: 'Prometheus metrics: runs by status, run durations, records written, queue depth',
    description: 'Aggregates only (no connection ids or names). Read from Postgres at scrape time, so every API instance reports the same values.',
    responses: { 200: { description: 'Prometheus text format 0.0.4', schema: z.string(), contentType: 'text/plain' } },
  },
]);

export function healthRoutes(deps: HealthRouteDeps) {
  const app = new Hono();
  const metrics = createMetricsCollector(deps);

  app.get('/healthz', async (c) => {
    const reachable = await Promise.race([
      deps.sql`select 1`.then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(resolve, HEALTH_TIMEOUT_MS, false).unref()),
    ]);
    return c.json({ ok: reachable, database: reachable ? 'ok' : 'unreachable' } as const, reachable ? 200 : 503);
  });

  app.get('/metrics', async (c) => c.body(renderMetrics(await metrics.collect()), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }));

  return app;
}
