// Sets a new password (given, or generated and then one-time) and ends all of that user's sessions.
import type { ServiceContext, Actor } from '../context.ts';
import { hashPassword, generatePassword, oneTimeExpiry } from '../../domain/password.ts';
import { NotFound } from '../../domain/errors.ts';
import { setPasswordHash, userById } from '../../store/users.ts';
import { deleteUserSessions } from '../../store/sessions.ts';
import { writeAudit } from '../../store/audit.ts';

export async function resetPassword({
  ctx,
  actor,
  userId,
  password,
}: {
  ctx: ServiceContext;
  actor: Actor;
  userId: number;
  password?: string;
}): Promise<{ generatedPassword?: string; expiresAt?: string }> {
  const generated = password === undefined ? generatePassword() : undefined;
  const hash = await hashPassword(password ?? generated!);
  const now = ctx.clock();
  const at = now.toISOString();
  const expiresAt = generated === undefined ? null : oneTimeExpiry(now);
  ctx.db
    .transaction(() => {
      const user = userById(ctx.db, userId);
      if (!user) throw new NotFound(`User ${userId} does not exist.`);
      setPasswordHash(ctx.db, userId, hash, expiresAt);
      const ended = deleteUserSessions(ctx.db, userId);
      const detail = `${ended} session(s) ended${expiresAt ? `; one-time password until ${expiresAt}` : ''}`;
      writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'user.reset-password', target: user.username, detail });
    })
    .immediate();
  return generated === undefined ? {} : { generatedPassword: generated, expiresAt: expiresAt! };
}
