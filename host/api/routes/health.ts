/**
 * Operator endpoints outside the environment keys: liveness with a database check, and Prometheus
 * metrics (behind their own bearer token when FERRY_METRICS_TOKEN is set).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Sql } from '../../db/connect.ts';
import type { Logger } from '../../logger.ts';
import { createMetricsCollector, PROMETHEUS_CONTENT_TYPE, renderMetrics } from '../../metrics/index.ts';
import { errorBody } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface HealthRouteDeps {
  sql: Sql;
  logger: Logger;
  /** When set, /metrics answers only `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

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
    summary: 'Prometheus metrics: runs by status and outcome, durations and peak memory by script, records written, proxy calls per provider, webhook deliveries, queue depth, process figures',
    description: 'Aggregates only (script and provider names, no connection ids). Read from Postgres at scrape time, so every API instance reports the same values. When the host has FERRY_METRICS_TOKEN, requires `Authorization: Bearer <that token>`.',
    responses: {
      200: { description: 'Prometheus text format 0.0.4', schema: z.string(), contentType: 'text/plain' },
      401: { description: 'FERRY_METRICS_TOKEN is set and the request does not carry it', schema: z.object({ error: z.object({ code: z.string(), message: z.string() }) }) },
    },
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

  const expected = deps.metricsToken === undefined ? null : digest(`Bearer ${deps.metricsToken}`);
  app.get('/metrics', async (c) => {
    // Digests compare in constant time whatever the header's length.
    if (expected && !timingSafeEqual(digest(c.req.header('authorization') ?? ''), expected)) {
      return c.json(errorBody('UNAUTHORIZED', 'GET /metrics needs Authorization: Bearer <FERRY_METRICS_TOKEN>'), 401);
    }
    return c.body(renderMetrics(await metrics.collect()), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  });

  return app;
}
