// Composition of the HTTP app: routes mounted over injected dependencies; no sockets here.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ServerDeps } from './deps.ts';
import { Problem, contentTooLarge, notFound, problemOf, problemResponse } from './http/problem.ts';
import { MAX_BODY_BYTES } from './http/validate.ts';
import { API_HEADERS, defaultHeaders } from './http/security-headers.ts';
import { API_PREFIX } from './http/api-access.ts';
import { createBackendMetrics, httpMetrics, metricsAllowed } from './http/metrics.ts';
import { apiRoutes } from './routes/api.ts';
import { createSite, type LookupCachedPage } from './routes/site.ts';
import { subscribeRoutes } from './routes/subscribe.ts';
import { staffRoutes } from './routes/staff/index.ts';
import { problemPage } from './routes/staff/guard.ts';
import { STAFF_SECURITY_HEADERS } from './routes/staff/layout.ts';
import { publicSignals } from './services/status-snapshot.ts';

export function createApp(deps: ServerDeps): Hono {
  return createAppWithFastPath(deps).app;
}

/**
 * The app plus a synchronous look-up of the public pages it has cached, for a listener that answers those without
 * going through Hono. The look-up is null for paths mounted ahead of the site, whose middleware (staff log-in) can
 * decide by more than the path, so only requests the site routes alone answer can be short-cut.
 */
export function createAppWithFastPath(given: ServerDeps): {
  app: Hono;
  lookupCachedPage: LookupCachedPage;
  /** Brings the public snapshot up to date (rebuilding it if data changed or a boundary passed): the state job. */
  refreshStatus: () => void;
} {
  const deps: ServerDeps = { ...given, metrics: given.metrics ?? createBackendMetrics() };
  const metrics = deps.metrics as NonNullable<ServerDeps['metrics']>;
  const app = new Hono();
  // The one place where service refusals (server/domain/errors.ts) become problem details; anything else is a bug.
  app.onError((err, c) => {
    const problem = problemOf(err);
    if (problem) return problemResponse(c, problem);
    deps.log.error({ err, path: c.req.path }, 'unhandled error');
    return problemResponse(c, new Problem(500, 'Internal Server Error', 'Something went wrong on our side; it has been logged.'));
  });
  // Outermost: every request Hono answers is counted, errors and 404s included.
  app.use('*', httpMetrics(metrics));
  // Outside /api/v1 (so its gate never applies) and outside /staff (no page headers): plain text for Prometheus.
  // Not public: a bearer token (TIDINGS_METRICS_TOKEN) or, without one, loopback requests that no proxy passed on.
  app.get('/metrics', async (c) => {
    if (!metricsAllowed(c, deps.config.metricsToken ?? null)) {
      if (deps.config.metricsToken) c.header('www-authenticate', 'Bearer realm="tidings-metrics"');
      return problemResponse(
        c,
        deps.config.metricsToken
          ? new Problem(401, 'Unauthorized', 'Send the metrics token as "Authorization: Bearer <token>".')
          : new Problem(403, 'Forbidden', '/metrics answers loopback requests only; set TIDINGS_METRICS_TOKEN to read it from elsewhere.'),
      );
    }
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
  });
  // Outermost, so they reach every answer below them, 413s, redirects and errors included. The public site sets its
  // own (server/routes/site.ts), because the cached-page fast path answers without Hono.
  app.use('/api/*', defaultHeaders(API_HEADERS));
  app.use('/staff/*', defaultHeaders(STAFF_SECURITY_HEADERS));
  // Before any route or middleware can read a body: a declared Content-Length over the cap is refused unread, a
  // chunked body is counted as it arrives and refused at the first byte over (Node drops the rest of the upload).
  // GET and HEAD bodies are never read (@hono/node-server does not even pass them on), so they skip the check.
  // A declared length without Transfer-Encoding is all bodyLimit compares then; compared here, because bodyLimit first
  // reads c.req.raw.body, which turns @hono/node-server's request into a web stream and costs every POST its direct
  // body read (seen in bench/telemetry's server profile; see its README).
  const limitBody = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => tooLarge(c) });
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined)
      return Number.parseInt(declared, 10) > MAX_BODY_BYTES ? tooLarge(c) : next();
    return limitBody(c, next);
  });
  app.route(API_PREFIX, apiRoutes(deps));
  app.route('/staff', staffRoutes(deps));
  // An unknown staff path is answered by the staff side (after its guard ran), not by the public, cacheable 404.
  app.all('/staff/*', (c) => problemPage(c, notFound(`There is no staff page at ${c.req.path}.`)));
  // Staff overrides and the MX nodes' telemetry reach the public snapshot; it reads them only when it rebuilds (writes,
  // an expiry passing, and while a section shows telemetry, every TELEMETRY_REFRESH_MS).
  const site = createSite(deps, { signals: publicSignals(deps) });
  // Ahead of the site's catch-all: the subscription pages are personal and never go into the page cache.
  app.route('/', subscribeRoutes(deps, site.renderUncached));
  app.route('/', site.routes);
  app.notFound((c) => problemResponse(c, new Problem(404, 'Not Found', `Nothing at ${c.req.path}.`)));
  const lookupCachedPage: LookupCachedPage = (method, url) => {
    const start = url.indexOf('/', url.indexOf('//') + 2);
    if (start < 0 || url.startsWith('/api', start) || url.startsWith('/staff', start) || url.startsWith('/metrics', start)) return null;
    return site.lookupCachedPage(method, url);
  };
  return { app, lookupCachedPage, refreshStatus: () => void site.snapshots.current() };
}

/** The 413 as the part of the site that was asked answers errors: a staff page for /staff, problem details elsewhere. */
function tooLarge(c: Context): Response | Promise<Response> {
  const problem = contentTooLarge(MAX_BODY_BYTES);
  return c.req.path === '/staff' || c.req.path.startsWith('/staff/') ? problemPage(c, problem) : problemResponse(c, problem);
}
