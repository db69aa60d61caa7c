// /staff/password: a staff member sets a new password; the one page a session opened with a one-time password may use.
import { Hono, type Context } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { Invalid } from '../../domain/errors.ts';
import { clientIp } from '../../http/session.ts';
import { Password } from '../../domain/staff.ts';
import { PASSWORD_MAX } from '../../domain/password.ts';
import { changeOwnPassword, type ChangePasswordResult } from '../../services/auth/changeOwnPassword.ts';
import { page, send, html, csrfField } from './layout.ts';
import { readForm } from './forms.ts';
import { authOf, actorOf, safeNext } from './guard.ts';

export function passwordPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  const show = (c: Context, next: string, o: { errors?: (string | FieldError)[]; status?: number } = {}) => {
    const auth = authOf(c);
    const body = html`<form method="post" action="/staff/password">${csrfField(auth)}<input type="hidden" name="next" value="${next}">
      <label for="currentPassword">${auth.mustChangePassword ? 'One-time password' : 'Current password'}</label>
      <input type="password" id="currentPassword" name="currentPassword" autocomplete="current-password" maxlength="${PASSWORD_MAX}" required>
      <label for="newPassword">New password (at least 10 characters)</label>
      <input type="password" id="newPassword" name="newPassword" autocomplete="new-password" minlength="10" maxlength="${PASSWORD_MAX}" required>
      <p><button type="submit">Set new password</button></p></form>`;
    const notice = auth.mustChangePassword
      ? 'You logged in with a one-time password: choose your own password before anything else.'
      : null;
    return send(c, page({ title: 'Set a new password', auth, notice, errors: o.errors, body }), o.status ?? 200);
  };

  app.get('/password', (c) => show(c, safeNext(c.req.query('next'))));

  app.post('/password', async (c) => {
    const form = await readForm(c);
    const next = safeNext(form.next);
    const currentPassword = (form.currentPassword ?? '').slice(0, PASSWORD_MAX);
    const newPassword = form.newPassword ?? '';
    if (!currentPassword) return show(c, next, { errors: ['Enter your current password.'], status: 400 });
    const valid = Password.safeParse(newPassword);
    if (!valid.success) return show(c, next, { errors: [{ field: 'New password', message: valid.error.issues[0].message }], status: 400 });
    let result: ChangePasswordResult;
    try {
      result = await changeOwnPassword({
        ctx,
        actor: actorOf(c),
        input: { currentPassword, newPassword, sessionHash: authOf(c).sessionHash, ip: clientIp(c, deps.config) },
      });
    } catch (e) {
      if (e instanceof Invalid) return show(c, next, { errors: [e.message], status: 400 });
      throw e;
    }
    if (result.kind === 'limited') {
      c.header('Retry-After', String(result.retryAfterSeconds));
      return show(c, next, { errors: [`Too many wrong passwords; try again in ${result.retryAfterSeconds} seconds.`], status: 429 });
    }
    if (result.kind === 'wrong-password') return show(c, next, { errors: ['The current password is wrong.'], status: 403 });
    return c.redirect(`${next}${next.includes('?') ? '&' : '?'}done=password`, 303);
  });
  return app;
}
