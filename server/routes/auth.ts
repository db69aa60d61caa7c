// /api/v1/auth: log in and change one's password (both rate-limited), log out, and "who am I" with the CSRF token.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { ServerDeps } from '../deps.ts';
import { currentStaff, resolveAuth, type AuthEnv } from '../http/auth.ts';
import { publicRoute, sessionRoute } from '../http/api-access.ts';
import { Problem, problemResponse } from '../http/problem.ts';
import { parseWith, readJson } from '../http/validate.ts';
import { clearSessionCookie, clientIp, readSessionSecret, setSessionCookie } from '../http/session.ts';
import { loginCsrfMatches, clearLoginCsrf, LOGIN_CSRF_REFUSED } from '../http/login-csrf.ts';
import { login } from '../services/auth/login.ts';
import { logout } from '../services/auth/logout.ts';
import { changeOwnPassword } from '../services/auth/changeOwnPassword.ts';
import { Password } from '../domain/staff.ts';

const LoginInput = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

/** 429 with Retry-After, for logins and password changes over the same limit. */
function tooMany(c: Context, what: string, retryAfterSeconds: number): Response {
  const res = problemResponse(c, new Problem(429, 'Too Many Requests', `Too many ${what}; try again in ${retryAfterSeconds} seconds.`));
  res.headers.set('Retry-After', String(retryAfterSeconds));
  return res;
}

export function authRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  // JSON logins need no login-CSRF token: readJson accepts only an application/json content type, which a page
  // on another site cannot send without a CORS preflight that this server never answers, and HTML forms can only
  // send urlencoded, multipart or text/plain bodies. A urlencoded body is what a forged form posts, so that
  // branch needs the same cookie-bound token as /staff/login.
  app.post('/auth/login', publicRoute, async (c) => {
    const type = c.req.header('content-type') ?? '';
    let input: z.infer<typeof LoginInput>;
    if (/^application\/x-www-form-urlencoded/i.test(type)) {
      const { _csrf, ...fields } = await c.req.parseBody();
      if (!loginCsrfMatches(c, deps.config, _csrf)) throw new Problem(403, 'Forbidden', LOGIN_CSRF_REFUSED);
      input = parseWith(LoginInput, fields, 'login form');
    } else {
      input = await readJson(c, LoginInput);
    }
    const result = await login({
      ctx,
      input: { ...input, ip: clientIp(c, deps.config), previousSecret: readSessionSecret(c, deps.config) },
    });
    if (result.kind === 'limited') return tooMany(c, 'failed logins', result.retryAfterSeconds);
    if (result.kind === 'invalid') throw new Problem(401, 'Unauthorized', 'Wrong username or password.');
    setSessionCookie(c, deps.config, result.secret, result.expiresAt);
    if (type.toLowerCase().startsWith('application/x-www-form-urlencoded')) clearLoginCsrf(c, deps.config);
    return c.json({
      user: result.user,
      csrfToken: result.csrfToken,
      expiresAt: result.expiresAt.toISOString(),
      mustChangePassword: result.mustChangePassword,
    });
  });

  // Logout and the password change are open to a session that must still replace its one-time password.
  app.post('/auth/logout', sessionRoute, (c) => {
    const auth = currentStaff(c);
    logout({ ctx, actor: { userId: auth.user.id, name: auth.user.username }, sessionHash: auth.sessionHash });
    clearSessionCookie(c, deps.config);
    return c.body(null, 204);
  });

  app.post('/auth/password', sessionRoute, async (c) => {
    const auth = currentStaff(c);
    const input = await readJson(c, z.strictObject({ currentPassword: z.string().min(1).max(1024), newPassword: Password }));
    const result = await changeOwnPassword({
      ctx,
      actor: { userId: auth.user.id, name: auth.user.username },
      input: { ...input, sessionHash: auth.sessionHash, ip: clientIp(c, deps.config) },
    });
    if (result.kind === 'limited') return tooMany(c, 'wrong passwords', result.retryAfterSeconds);
    if (result.kind === 'wrong-password')
      throw new Problem(403, 'Forbidden', 'The current password is wrong.', [{ field: 'currentPassword', message: 'wrong password' }]);
    return c.body(null, 204);
  });

  app.get('/auth/session', publicRoute, (c) => {
    const auth = resolveAuth(c, deps);
    c.header('Cache-Control', 'no-store');
    if (!auth) return c.json({ user: null, csrfToken: null, expiresAt: null });
    return c.json({ user: auth.user, csrfToken: auth.csrfToken, expiresAt: auth.expiresAt, mustChangePassword: auth.mustChangePassword });
  });

  return app;
}
