// Staff authentication middleware for any router: requireStaff, requireAdmin (both also check CSRF on writes), requireSession and requireCsrf.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ServerDeps } from '../deps.ts';
import type { Role } from '../store/users.ts';
import { liveSession } from '../store/sessions.ts';
import { readSessionSecret, hashSecret } from './session.ts';
import { Problem, forbidden, unauthorized } from './problem.ts';

export interface StaffAuth {
  user: { id: number; username: string; displayName: string; role: Role };
  sessionHash: string;
  csrfToken: string;
  expiresAt: string;
  /** Logged in with a one-time password: until a new one is set, the session may do nothing else. */
  mustChangePassword: boolean;
}

/** Hono env for routers that read the logged-in user with `c.get('auth')`. */
export type AuthEnv = { Variables: { auth: StaffAuth | null } };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session behind the request's cookie, looked up once per request. */
export function resolveAuth(c: Context, deps: Pick<ServerDeps, 'db' | 'config' | 'clock'>): StaffAuth | null {
  const cached = c.get('auth') as StaffAuth | null | undefined;
  if (cached !== undefined) return cached;
  const secret = readSessionSecret(c, deps.config);
  let auth: StaffAuth | null = null;
  if (secret) {
    const idHash = hashSecret(secret);
    const s = liveSession(deps.db, idHash, deps.clock().toISOString());
    if (s) {
      auth = {
        user: { id: s.user_id, username: s.username, displayName: s.display_name, role: s.role },
        sessionHash: idHash,
        csrfToken: s.csrf_token,
        expiresAt: s.expires_at,
        mustChangePassword: s.must_change_password === 1,
      };
    }
  }
  c.set('auth', auth);
  return auth;
}

export function sameToken(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison itself leaks nothing.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

async function presentedToken(c: Context): Promise<string | undefined> {
  const header = c.req.header('x-csrf-token');
  if (header) return header;
  const type = c.req.header('content-type') ?? '';
  if (/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
    // Hono caches the parsed body, so the route can still read the form afterwards.
    const form = await c.req.parseBody();
    return typeof form._csrf === 'string' ? form._csrf : undefined;
  }
  return undefined;
}

async function checkCsrf(c: Context, auth: StaffAuth | null): Promise<void> {
  if (!auth || SAFE_METHODS.has(c.req.method)) return;
  const token = await presentedToken(c);
  if (!token || !sameToken(token, auth.csrfToken)) {
    throw new Problem(
      403,
      'Forbidden',
      'Missing or wrong CSRF token: send the token from the session in X-CSRF-Token (or the _csrf form field).',
    );
  }
}

/** State-changing requests that carry a session must carry its CSRF token; anonymous ones pass (nothing to forge). */
export function requireCsrf(deps: Pick<ServerDeps, 'db' | 'config' | 'clock'>): MiddlewareHandler {
  return async (c, next) => {
    await checkCsrf(c, resolveAuth(c, deps));
    await next();
  };
}

/** What a session opened with a one-time password hears from every staff route but the ones that set a new password. */
export const ONE_TIME_PASSWORD_REFUSED =
  'You logged in with a one-time password: set a new password first (POST /api/v1/auth/password with currentPassword and newPassword; on the staff pages, /staff/password).';

/**
 * Any logged-in user, even one who must still replace a one-time password (401 otherwise; writes need the CSRF
 * token): only for logging out and setting that new password.
 */
export function requireSession(deps: Pick<ServerDeps, 'db' | 'config' | 'clock'>): MiddlewareHandler {
  return async (c, next) => {
    const auth = resolveAuth(c, deps);
    if (!auth) throw unauthorized('Log in as staff first.');
    await checkCsrf(c, auth);
    await next();
  };
}

/** A logged-in, enabled staff member or admin (401 otherwise); writes also need the CSRF token (403). */
export function requireStaff(deps: Pick<ServerDeps, 'db' | 'config' | 'clock'>): MiddlewareHandler {
  return async (c, next) => {
    const auth = resolveAuth(c, deps);
    if (!auth) throw unauthorized('Log in as staff first.');
    if (auth.mustChangePassword) throw forbidden(ONE_TIME_PASSWORD_REFUSED);
    await checkCsrf(c, auth);
    await next();
  };
}

/** Like requireStaff, and the role must be admin (403 for staff). */
export function requireAdmin(deps: Pick<ServerDeps, 'db' | 'config' | 'clock'>): MiddlewareHandler {
  return async (c, next) => {
    const auth = resolveAuth(c, deps);
    if (!auth) throw unauthorized('Log in as an admin first.');
    if (auth.mustChangePassword) throw forbidden(ONE_TIME_PASSWORD_REFUSED);
    if (auth.user.role !== 'admin') throw forbidden('Only admins may do this.');
    await checkCsrf(c, auth);
    await next();
  };
}

/** The logged-in user of a route guarded by requireStaff/requireAdmin. */
export function currentStaff(c: Context): StaffAuth {
  const auth = c.get('auth') as StaffAuth | null | undefined;
  if (!auth) throw unauthorized();
  return auth;
}

/** Who is acting, as services record it in history and the audit log. */
export function staffActor(c: Context): { userId: number; name: string } {
  const { user } = currentStaff(c);
  return { userId: user.id, name: user.username };
}
