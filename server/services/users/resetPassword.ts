// Sets a new password (given or generated) and ends all of that user's sessions.
import type { ServiceContext, Actor } from '../context.ts';
import { hashPassword, generatePassword } from '../../domain/password.ts';
import { notFound } from '../../http/problem.ts';
import { setPasswordHash, userById } from '../../store/users.ts';
import { deleteUserSessions } from '../../store/sessions.ts';
import { writeAudit } from '../../store/audit.ts';

export async function resetPassword({ ctx, actor, userId, password }: { ctx: ServiceContext; actor: Actor; userId: number; password?: string }): Promise<{ generatedPassword?: string }> {
  const generated = password === undefined ? generatePassword() : undefined;
  const hash = await hashPassword(password ?? generated!);
  const at = ctx.clock().toISOString();
  ctx.db.transaction(() => {
    const user = userById(ctx.db, userId);
    if (!user) throw notFound(`User ${userId} does not exist.`);
    setPasswordHash(ctx.db, userId, hash);
    const ended = deleteUserSessions(ctx.db, userId);
    writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'user.reset-password', target: user.username, detail: `${ended} session(s) ended` });
  }).immediate();
  return generated === undefined ? {} : { generatedPassword: generated };
}
