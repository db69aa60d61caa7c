// Who may call an /api/v1 route. Deny by default, as /staff: a route needs a staff session unless it declares otherwise.
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { ServerDeps } from '../deps.ts';
import type { MxNode } from '../store/mail.ts';
import { authenticateNode } from '../services/mail/configChanges.ts';
import { countRefusal } from '../services/telemetry/refusals.ts';
import { requireAdmin, requireSession, requireStaff } from './auth.ts';
import { unauthorized } from './problem.ts';

export const API_PREFIX = '/api/v1';

/**
 * staff: the default, a logged-in staff member; the others are declared next to the route with the markers below.
 * none: no API route matches, so there is nothing to guard and the app answers its 404.
 */
export type ApiAccess = 'public' | 'session' | 'staff' | 'admin' | 'node' | 'none';

// Declarations, put first among a route's handlers: `app.get('/tasks', publicRoute, handler)`. They do nothing
// themselves; apiAccess finds them among the matched routes and applies the check they name.
/** Anyone, logged in or not. */
export const publicRoute: MiddlewareHandler = (_c, next) => next();
/** Any session, even one that must still replace its one-time password (logging out, setting that password). */
export const sessionRoute: MiddlewareHandler = (_c, next) => next();
/** An admin's session. */
export const adminRoute: MiddlewareHandler = (_c, next) => next();
/** An MX node's bearer token, never a staff session. */
export const nodeRoute: MiddlewareHandler = (_c, next) => next();

const DECLARATIONS = new Map<unknown, ApiAccess>([
  [publicRoute, 'public'],
  [sessionRoute, 'session'],
  [adminRoute, 'admin'],
  [nodeRoute, 'node'],
]);

/** The access declared by the API routes matching this request: 'staff' when they declare none. */
export function declaredAccess(c: Context): ApiAccess {
  const byRoute = new Map<string, ApiAccess>();
  for (const r of matchedRoutes(c)) {
    // A route is a method and a path; app.use() middleware is registered for ALL methods. (So would be app.all(),
    // which this gate would not see: test/integration/api-guard.test.ts fails on any such entry under /api/v1.)
    if (r.method === 'ALL' || !r.path.startsWith(`${API_PREFIX}/`)) continue;
    const key = `${r.method} ${r.path}`;
    const declared = DECLARATIONS.get(r.handler);
    if (declared) byRoute.set(key, declared);
    else if (!byRoute.has(key)) byRoute.set(key, 'staff');
  }
  const kinds = new Set(byRoute.values());
  if (kinds.size === 0) return 'none';
  if (kinds.size === 1) return [...kinds][0];
  // Routes that overlap but disagree: the strictest staff check, never the most open one.
  return kinds.has('admin') ? 'admin' : 'staff';
}

/** The one gate in front of every /api/v1 route; a route that declares nothing needs a staff session. */
export function apiAccess(deps: Pick<ServerDeps, 'db' | 'config' | 'clock' | 'log' | 'metrics'>): MiddlewareHandler {
  const checks: Record<Exclude<ApiAccess, 'public' | 'none'>, MiddlewareHandler> = {
    session: requireSession(deps),
    staff: requireStaff(deps),
    admin: requireAdmin(deps),
    node: requireNode(deps),
  };
  return async (c, next) => {
    const access = declaredAccess(c);
    if (access === 'public' || access === 'none') return next();
    return checks[access](c, next);
  };
}

/**
 * Bearer node token → the node; the same answer for a missing and a wrong token, so tokens cannot be probed. Each
 * refusal is counted (the node-less 'bad-token' counter staff see on /staff/mail); counting never throws.
 */
function requireNode(deps: Pick<ServerDeps, 'db' | 'clock' | 'log' | 'metrics'>): MiddlewareHandler {
  return async (c, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    const node = m ? authenticateNode(deps.db, m[1]) : undefined;
    if (!node) {
      countRefusal(deps, null, 'bad-token');
      if (c.req.method === 'POST' && c.req.path === `${API_PREFIX}/telemetry`) deps.metrics?.batch('bad-token');
      c.header('www-authenticate', 'Bearer realm="tidings-mx"');
      throw unauthorized('Send a valid MX node token as "Authorization: Bearer <token>".');
    }
    c.set('node', node);
    await next();
  };
}

/** The MX node of a route declared with nodeRoute. */
export function currentNode(c: Context): MxNode {
  const node = c.get('node') as MxNode | undefined;
  if (!node) throw unauthorized('Send a valid MX node token as "Authorization: Bearer <token>".');
  return node;
}
