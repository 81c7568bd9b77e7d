/**
 * The one HTTP server of a host: an access log line for every request, the dashboard under
 * /dashboard (which reads and acts through the API in process, with the signed-in key), and the API.
 */
import { Hono } from 'hono';
import { accessLog } from './api/access-log.ts';
import { errorBody } from './api/errors.ts';
import { createDashboard, type DashboardDeps } from './dashboard/app.ts';
import type { Logger } from './logger.ts';

export function createHttpApp(api: Hono<any>, logger: Logger, dashboard: Pick<DashboardDeps, 'signInLimit' | 'trustProxy'> = {}): Hono {
  const app = new Hono();
  app.use('*', accessLog(logger));
  app.get('/dashboard/', (c) => c.redirect('/dashboard', 301));
  // Browsers ask for it on their own for every page (the dashboard, the hosted connect page): an
  // empty answer, not the API's 401, which each page's console showed as an error.
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.route('/dashboard', createDashboard({ api: (request) => api.fetch(request), logger, ...dashboard }));
  app.route('/', api);
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404));
  return app;
}
