// /staff/users (admins): add staff, reset a password, disable (ending that user's sessions at once) or enable.
import { Hono, type Context } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { parseId, parseWith } from '../../http/validate.ts';
import { AddStaffInput, ResetPasswordInput, staffView } from '../../domain/staff.ts';
import { allUsers } from '../../store/users.ts';
import { addStaff } from '../../services/users/addStaff.ts';
import { resetPassword } from '../../services/users/resetPassword.ts';
import { setStaffDisabled } from '../../services/users/setStaffDisabled.ts';
import { page, send, html, csrfField, noticeOf, type Html } from './layout.ts';
import { readForm } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import { attempt, formErrorsOf } from './tasks.ts';

async function attemptAsync(run: () => Promise<void>): Promise<(FieldError[] & { status?: number }) | null> {
  try {
    await run();
    return null;
  } catch (e) {
    return formErrorsOf(e);
  }
}

export function userPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  /** A generated password is shown once, on the response to the POST itself, and never stored in clear. */
  const show = (c: Context, o: { errors?: FieldError[]; status?: number; secret?: Html } = {}) => {
    const auth = authOf(c);
    const users = allUsers(deps.db).map(staffView);
    const body = html`${o.secret ?? ''}
      <table><thead><tr><th>Username</th><th>Display name</th><th>Role</th><th>State</th><th>Actions</th></tr></thead><tbody>
      ${users.map(
        (u) => html`<tr><td>${u.username}</td><td>${u.displayName}</td><td>${u.role}</td>
        <td>${u.disabled ? 'disabled' : u.canLogIn ? 'active' : 'cannot log in'}</td>
        <td><form method="post" action="/staff/users/${u.id}/password" class="inline">${csrfField(auth)}<button type="submit">Reset password</button></form>
          <form method="post" action="/staff/users/${u.id}/${u.disabled ? 'enable' : 'disable'}" class="inline">${csrfField(auth)}<button type="submit">${u.disabled ? 'Enable' : 'Disable'} ${u.username}</button></form></td></tr>`,
      )}
      </tbody></table>
      <h2>Add staff</h2>
      <form method="post" action="/staff/users">${csrfField(auth)}<div class="row">
        <div><label for="username">Username</label><input type="text" id="username" name="username" maxlength="64" required></div>
        <div><label for="displayName">Display name</label><input type="text" id="displayName" name="displayName" maxlength="100"></div>
        <div><label for="role">Role</label><select id="role" name="role"><option value="staff">staff</option><option value="admin">admin</option></select></div>
        <div><label for="password">Password (empty = generate one)</label><input type="password" id="password" name="password" autocomplete="new-password"></div>
        <div><button type="submit">Add</button></div></div></form>`;
    return send(c, page({ title: 'Users', auth, notice: noticeOf(c), errors: o.errors, body }), o.status ?? 200);
  };
  const secretBox = (who: string, password: string) =>
    html`<p class="notice" role="status">One-time password for <strong>${who}</strong>: <code>${password}</code> — it is shown only now.</p>`;

  app.get('/users', (c) => show(c));

  app.post('/users', async (c) => {
    const f = await readForm(c);
    let result: Awaited<ReturnType<typeof addStaff>> | undefined;
    const errors = await attemptAsync(async () => {
      const input = parseWith(
        AddStaffInput,
        {
          username: (f.username ?? '').trim(),
          role: f.role || 'staff',
          ...(f.displayName?.trim() ? { displayName: f.displayName } : {}),
          ...(f.password ? { password: f.password } : {}),
        },
        'new user',
      );
      result = await addStaff({ ctx, actor: actorOf(c), input });
    });
    if (errors) return show(c, { errors, status: errors.status ?? 400 });
    if (result?.generatedPassword) return show(c, { secret: secretBox(result.user.username, result.generatedPassword) });
    return c.redirect('/staff/users?done=added', 303);
  });

  app.post('/users/:id/password', async (c) => {
    const id = parseId(c.req.param('id'));
    const f = await readForm(c);
    let generated: string | undefined;
    const errors = await attemptAsync(async () => {
      const input = parseWith(ResetPasswordInput, f.password ? { password: f.password } : {}, 'password');
      generated = (await resetPassword({ ctx, actor: actorOf(c), userId: id, password: input.password })).generatedPassword;
    });
    if (errors) return show(c, { errors, status: errors.status ?? 400 });
    const user = allUsers(deps.db).find((u) => u.id === id);
    if (generated && user) return show(c, { secret: secretBox(user.username, generated) });
    return c.redirect('/staff/users?done=saved', 303);
  });

  for (const verb of ['disable', 'enable'] as const) {
    app.post(`/users/:id/${verb}`, (c) => {
      const id = parseId(c.req.param('id'));
      const errors = attempt(() => {
        setStaffDisabled({ ctx, actor: actorOf(c), userId: id, disabled: verb === 'disable' });
      });
      if (errors) return show(c, { errors, status: errors.status ?? 400 });
      // Disabling yourself ends your own session too: the next page is the login page.
      return c.redirect(`/staff/users?done=${verb}d`, 303);
    });
  }
  return app;
}
