// Access to staff pages: anonymous visitors get the login page, a one-time password the form to replace it, staff the
// pages, admins the admin pages; CSRF on every POST.
import type { Context, MiddlewareHandler } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import { resolveAuth, requireCsrf, staffActor, type StaffAuth } from '../../http/auth.ts';
import { Problem } from '../../http/problem.ts';
import { page, send, html } from './layout.ts';

type GuardDeps = Pick<ServerDeps, 'db' | 'config' | 'clock'>;

/**
 * "/staff", then a path, query or fragment of URL characters only: no CR/LF (which would split the Location header),
 * no other control, space, backslash or non-ASCII character, so a browser cannot read it as another host.
 */
const STAFF_TARGET = /^\/staff(?:[/?#][A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]*)?$/;
/** "." and ".." segments (also percent-encoded, as browsers resolve them) would climb out of /staff. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;
/** Controls stay out even percent-encoded, so no later decoding step can turn them into a header break. */
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;

/** Only local staff paths are followed after login, so the login form cannot be used as an open redirect. */
export function safeNext(raw: string | undefined): string {
  if (raw === undefined || !STAFF_TARGET.test(raw) || ENCODED_CONTROL.test(raw)) return '/staff';
  return DOT_SEGMENT.test(raw.replace(/[?#].*$/s, '')) ? '/staff' : raw;
}

/** Where a session opened with a one-time password must go first; `next` is where to continue afterwards. */
export function setPasswordFirst(next: string): string {
  return `/staff/password?next=${encodeURIComponent(safeNext(next))}`;
}

/** The only staff pages a session opened with a one-time password may use: setting the new password, and leaving. */
const OPEN_BEFORE_NEW_PASSWORD = new Set(['/staff/password', '/staff/logout']);

export function staffOnly(deps: GuardDeps, role: 'staff' | 'admin' = 'staff'): MiddlewareHandler {
  const csrf = requireCsrf(deps);
  return async (c, next) => {
    const auth = resolveAuth(c, deps);
    if (!auth) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') {
        return c.redirect(`/staff/login?next=${encodeURIComponent(safeNext(c.req.path))}`, 303);
      }
      throw new Problem(401, 'Unauthorized', 'Your session has ended; log in again.');
    }
    if (auth.mustChangePassword && !OPEN_BEFORE_NEW_PASSWORD.has(c.req.path)) {
      // A form posted from a page opened before the login lands on the same form; nothing it asked for is done.
      return c.redirect(c.req.method === 'GET' || c.req.method === 'HEAD' ? setPasswordFirst(c.req.path) : '/staff/password', 303);
    }
    if (role === 'admin' && auth.user.role !== 'admin') throw new Problem(403, 'Forbidden', 'Only admins may open this page.');
    return csrf(c, next);
  };
}

/** The logged-in user on a guarded page. */
export function authOf(c: Context): StaffAuth {
  const auth = c.get('auth') as StaffAuth | null | undefined;
  if (!auth) throw new Problem(401, 'Unauthorized', 'Log in first.');
  return auth;
}

export const actorOf = staffActor;

/** Problems on staff pages read as pages, not JSON; a lapsed session offers the login link. */
export function problemPage(c: Context, p: Problem): Response | Promise<Response> {
  const auth = (c.get('auth') as StaffAuth | null | undefined) ?? null;
  const body = p.status === 401 ? html`<p><a href="/staff/login">Log in</a></p>` : html`<p><a href="/staff">Back to the dashboard</a></p>`;
  return send(c, page({ title: p.title, auth, errors: [p.detail, ...p.errors], body }), p.status);
}
