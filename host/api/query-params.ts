/**
 * Query parameters a route does not take are refused, on every route: a typo such as
 * `DELETE /syncs/x/variants/v?conection_id=…` used to be ignored silently, and a route that reads
 * no query (a DELETE, a POST) ignored any. A route takes the parameters its spec's `query` names
 * (openapi/route-spec.ts), none if it declares no query; a spec whose query is a non-strict zod
 * object (z.object, z.looseObject) takes others too and ignores them — pages a browser opens and
 * provider callbacks, which add parameters of their own.
 */
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { ApiError } from './errors.ts';
import type { RouteSpec } from './openapi/index.ts';

/** The names a route takes, or null when it takes any. */
function takenNames(spec: RouteSpec): ReadonlySet<string> | null {
  if (!spec.query) return new Set();
  const catchall = (spec.query as { _zod: { def: { catchall?: { _zod: { def: { type: string } } } } } })._zod.def.catchall;
  if (catchall?._zod.def.type !== 'never') return null;
  return new Set(Object.keys(spec.query.shape));
}

/** Middleware refusing, with a 400 naming them, the query parameters the matched route does not take. */
export function refuseUnknownQueryParameters(specs: readonly RouteSpec[]): MiddlewareHandler {
  const byRoute = new Map(specs.map((s) => [`${s.method.toUpperCase()} ${s.path}`, takenNames(s)]));
  return async (c, next) => {
    const given = Object.keys(c.req.queries());
    if (given.length > 0) {
      const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
      const route = matchedRoutes(c).find((r) => byRoute.has(`${method} ${r.path}`));
      const taken = route ? byRoute.get(`${method} ${route.path}`) : null;
      const unknown = taken ? given.filter((name) => !taken.has(name)) : [];
      if (unknown.length > 0) {
        const takes = taken!.size > 0 ? `; this route takes ${[...taken!].join(', ')}` : '; this route takes none';
        throw new ApiError(400, 'INVALID_REQUEST', `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n.length > 100 ? `${n.slice(0, 100)}…` : n)).join(', ')}${takes}`,
          unknown.map((name) => ({ path: ['query', name], message: 'unknown parameter' })));
      }
    }
    await next();
  };
}
