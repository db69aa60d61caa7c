// A logged-in user replaces their own password (e.g. the CLI's one-time one); their other sessions end, this one stays.
import type { ServiceContext, Actor } from '../context.ts';
import { hashPassword, verifyPassword } from '../../domain/password.ts';
import { Problem } from '../../http/problem.ts';
import { recordLoginFailure } from '../../http/ratelimit.ts';
import { setPasswordHash, userById } from '../../store/users.ts';
import { writeAudit } from '../../store/audit.ts';
import { deleteOtherSessions } from '../../store/sessions.ts';

export async function changeOwnPassword({ ctx, actor, input }: {
  ctx: ServiceContext; actor: Actor & { userId: number }; input: { currentPassword: string; newPassword: string; sessionHash: string; ip: string };
}): Promise<void> {
  const user = userById(ctx.db, actor.userId);
  const ok = user?.password_hash ? await verifyPassword(input.currentPassword, user.password_hash) : false;
  const at = ctx.clock().toISOString();
  if (!user || !ok) {
    // Counts toward the login limit, so a stolen session cannot be used to guess the password.
    ctx.db.transaction(() => {
      recordLoginFailure(ctx.db, { account: actor.name.toLowerCase(), ip: input.ip }, at);
      writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'password.change-failed' });
    }).immediate();
    throw new Problem(403, 'Forbidden', 'The current password is wrong.', [{ field: 'currentPassword', message: 'wrong password' }]);
  }
  const hash = await hashPassword(input.newPassword);
  ctx.db.transaction(() => {
    setPasswordHash(ctx.db, user.id, hash);
    deleteOtherSessions(ctx.db, user.id, input.sessionHash);
    writeAudit(ctx.db, { at, userId: user.id, actor: actor.name, action: 'password.change' });
  }).immediate();
}
