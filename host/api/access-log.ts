/**
 * One pino line per HTTP request: method, the route pattern that answered (never the raw path
 * with its ids and query, which can carry keys), status and duration. Headers are never logged.
 */
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../logger.ts';

export function accessLog(logger: Logger): MiddlewareHandler {
  const log = logger.child({ module: 'http' });
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // The first handler (not middleware) the path matched: the one that answers, or would have
      // answered a request that authentication refused.
      const route = matchedRoutes(c).find((r) => r.method !== 'ALL')?.path ?? 'unmatched';
      const status = c.res.status;
      const line = { method: c.req.method, route, status, durationMs: Math.round((performance.now() - started) * 100) / 100 };
      if (status >= 500) log.error(line, 'request');
      else log.info(line, 'request');
    }
  };
}
