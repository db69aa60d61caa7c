// Disables an account (its sessions die at once) or enables it again; the last admin who can log in stays.
import type { ServiceContext, Actor } from '../context.ts';
import { Conflict, NotFound } from '../../domain/errors.ts';
import { setDisabled, userById, countActiveAdmins } from '../../store/users.ts';
import { deleteUserSessions } from '../../store/sessions.ts';
import { writeAudit } from '../../store/audit.ts';
import { staffView, type StaffView } from '../../domain/staff.ts';

export function setStaffDisabled({
  ctx,
  actor,
  userId,
  disabled,
}: {
  ctx: ServiceContext;
  actor: Actor;
  userId: number;
  disabled: boolean;
}): StaffView {
  const at = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const user = userById(ctx.db, userId);
      if (!user) throw new NotFound(`User ${userId} does not exist.`);
      if (disabled && user.role === 'admin' && !user.disabled && user.password_hash !== null && countActiveAdmins(ctx.db) <= 1) {
        throw new Conflict(`"${user.username}" is the last admin who can log in; add another admin first.`);
      }
      setDisabled(ctx.db, userId, disabled);
      const ended = disabled ? deleteUserSessions(ctx.db, userId) : 0;
      writeAudit(ctx.db, {
        at,
        userId: actor.userId,
        actor: actor.name,
        action: disabled ? 'user.disable' : 'user.enable',
        target: user.username,
        detail: disabled ? `${ended} session(s) ended` : null,
      });
      return staffView(userById(ctx.db, userId)!);
    })
    .immediate();
}
