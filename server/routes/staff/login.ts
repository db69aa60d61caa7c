// /staff/login and /staff/logout as plain forms: the same login service, rate limit and audit as the API.
import { Hono } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import { resolveAuth, type AuthEnv } from '../../http/auth.ts';
import { clearSessionCookie, clientIp, readSessionSecret, setSessionCookie } from '../../http/session.ts';
import { issueLoginCsrf, loginCsrfMatches, clearLoginCsrf, LOGIN_CSRF_REFUSED } from '../../http/login-csrf.ts';
import { login } from '../../services/auth/login.ts';
import { logout } from '../../services/auth/logout.ts';
import { page, send, html, noticeOf } from './layout.ts';
import { readForm } from './forms.ts';
import { safeNext, staffOnly, authOf, actorOf, setPasswordFirst } from './guard.ts';

function loginForm(csrf: string, next: string, username = ''): ReturnType<typeof html> {
  return html`<form method="post" action="/staff/login">
    <input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="next" value="${next}">
    <label for="username">Username</label><input type="text" id="username" name="username" value="${username}" autocomplete="username" required autofocus>
    <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
    <p><button type="submit">Log in</button></p></form>`;
}

export function loginRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  app.get('/login', (c) => {
    const next = safeNext(c.req.query('next'));
    const auth = resolveAuth(c, deps);
    if (auth) return c.redirect(auth.mustChangePassword ? setPasswordFirst(next) : next, 303);
    return send(c, page({ title: 'Log in', auth: null, notice: noticeOf(c), body: loginForm(issueLoginCsrf(c, deps.config), next) }));
  });

  app.post('/login', async (c) => {
    const form = await readForm(c);
    const next = safeNext(form.next);
    const username = (form.username ?? '').trim().slice(0, 64);
    const password = (form.password ?? '').slice(0, 1024);
    // Checked before the password is even looked at: a forged login must not count towards lockouts either.
    if (!loginCsrfMatches(c, deps.config, form._csrf)) {
      return send(
        c,
        page({
          title: 'Log in',
          auth: null,
          errors: [LOGIN_CSRF_REFUSED],
          body: loginForm(issueLoginCsrf(c, deps.config, { fresh: true }), next, username),
        }),
        403,
      );
    }
    const again = (typed: string) => loginForm(issueLoginCsrf(c, deps.config), next, typed);
    if (!username || !password) {
      return send(c, page({ title: 'Log in', auth: null, errors: ['Enter your username and password.'], body: again(username) }), 400);
    }
    const result = await login({
      ctx,
      input: { username, password, ip: clientIp(c, deps.config), previousSecret: readSessionSecret(c, deps.config) },
    });
    if (result.kind === 'limited') {
      c.header('Retry-After', String(result.retryAfterSeconds));
      return send(
        c,
        page({
          title: 'Log in',
          auth: null,
          errors: [`Too many failed logins; try again in ${result.retryAfterSeconds} seconds.`],
          body: again(username),
        }),
        429,
      );
    }
    if (result.kind === 'invalid') {
      return send(c, page({ title: 'Log in', auth: null, errors: ['Wrong username or password.'], body: again(username) }), 401);
    }
    setSessionCookie(c, deps.config, result.secret, result.expiresAt);
    clearLoginCsrf(c, deps.config);
    return c.redirect(result.mustChangePassword ? setPasswordFirst(next) : next, 303);
  });

  app.post('/logout', staffOnly(deps), (c) => {
    logout({ ctx, actor: actorOf(c), sessionHash: authOf(c).sessionHash });
    clearSessionCookie(c, deps.config);
    return c.redirect('/staff/login?done=loggedout', 303);
  });
  return app;
}
