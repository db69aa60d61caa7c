// /api/v1/users: admin-only account management (list, add, reset password, disable, enable).
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { adminRoute } from '../http/api-access.ts';
import { parseId, readJson } from '../http/validate.ts';
import { AddStaffInput, ResetPasswordInput, staffView } from '../domain/staff.ts';
import { allUsers } from '../store/users.ts';
import { addStaff } from '../services/users/addStaff.ts';
import { resetPassword } from '../services/users/resetPassword.ts';
import { setStaffDisabled } from '../services/users/setStaffDisabled.ts';

export function userRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const actorOf = staffActor;

  app.get('/users', adminRoute, (c) => c.json({ items: allUsers(deps.db).map(staffView) }));

  app.post('/users', adminRoute, async (c) => {
    const input = await readJson(c, AddStaffInput);
    const { user, generatedPassword } = await addStaff({ ctx, actor: actorOf(c), input });
    c.header('Cache-Control', 'no-store');
    return c.json(generatedPassword ? { user, password: generatedPassword } : { user }, 201);
  });

  app.post('/users/:id/password', adminRoute, async (c) => {
    const id = parseId(c.req.param('id'));
    const input = await readJson(c, ResetPasswordInput);
    const { generatedPassword } = await resetPassword({ ctx, actor: actorOf(c), userId: id, password: input.password });
    c.header('Cache-Control', 'no-store');
    return c.json(generatedPassword ? { password: generatedPassword } : {});
  });

  app.post('/users/:id/disable', adminRoute, (c) =>
    c.json(setStaffDisabled({ ctx, actor: actorOf(c), userId: parseId(c.req.param('id')), disabled: true })),
  );
  app.post('/users/:id/enable', adminRoute, (c) =>
    c.json(setStaffDisabled({ ctx, actor: actorOf(c), userId: parseId(c.req.param('id')), disabled: false })),
  );

  return app;
}
