// Composition of the HTTP app: routes mounted over injected dependencies; no sockets here.
import { Hono } from 'hono';
import type { ServerDeps } from './deps.ts';
import { Problem, problemResponse } from './http/problem.ts';
import { apiRoutes } from './routes/api.ts';
import { mailRoutes } from './routes/mail.ts';
import { siteRoutes } from './routes/site.ts';
import { overrideRoutes } from './routes/overrides.ts';
import { auditRoutes } from './routes/audit.ts';
import { staffRoutes } from './routes/staff/index.ts';
import { overrideSignal } from './services/overrides/active.ts';
import { allOverrides } from './store/overrides.ts';

export function createApp(deps: ServerDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof Problem) return problemResponse(c, err);
    deps.log.error({ err, path: c.req.path }, 'unhandled error');
    return problemResponse(c, new Problem(500, 'Internal Server Error', 'Something went wrong on our side; it has been logged.'));
  });
  app.route('/api/v1', mailRoutes(deps));
  app.route('/api/v1', apiRoutes(deps));
  app.route('/api/v1', overrideRoutes(deps));
  app.route('/api/v1', auditRoutes(deps));
  app.route('/staff', staffRoutes(deps));
  // Staff overrides reach the public snapshot; it reads them only when it rebuilds (writes, or an expiry passing).
  app.route('/', siteRoutes(deps, { signals: { override: overrideSignal(() => allOverrides(deps.db)) } }));
  app.notFound((c) => problemResponse(c, new Problem(404, 'Not Found', `Nothing at ${c.req.path}.`)));
  return app;
}
