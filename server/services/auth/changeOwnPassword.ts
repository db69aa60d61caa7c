// A logged-in user replaces their own password (e.g. a one-time one); their other sessions end, this one stays.
import type { ServiceContext, Actor } from '../context.ts';
import { hashPassword, verifyPassword } from '../../domain/password.ts';
import { Invalid } from '../../domain/errors.ts';
import { reserveLoginAttempt, recordFailedAttempt, recordSucceededAttempt } from '../../http/ratelimit.ts';
import { setPasswordHash, userById } from '../../store/users.ts';
import { writeAudit } from '../../store/audit.ts';
import { deleteOtherSessions } from '../../store/sessions.ts';

export type ChangePasswordResult = { kind: 'changed' } | { kind: 'wrong-password' } | { kind: 'limited'; retryAfterSeconds: number };

export async function changeOwnPassword({
  ctx,
  actor,
  input,
}: {
  ctx: ServiceContext;
  actor: Actor & { userId: number };
  input: { currentPassword: string; newPassword: string; sessionHash: string; ip: string };
}): Promise<ChangePasswordResult> {
  if (input.newPassword === input.currentPassword) {
    // Otherwise a one-time password could be "changed" into a permanent one.
    throw new Invalid('Choose a new password different from the current one.', [
      { field: 'newPassword', message: 'the same as the current password' },
    ]);
  }
  // The same limit as login, per account and per address: a stolen session must not be a way to guess the password.
  const account = actor.name.toLowerCase();
  const started = ctx.clock();
  const attempt = reserveLoginAttempt(ctx.db, { account, ip: input.ip }, started);
  if (attempt.kind === 'limited') {
    writeAudit(ctx.db, {
      at: started.toISOString(),
      userId: actor.userId,
      actor: actor.name,
      action: 'password.change-limited',
      detail: `ip ${input.ip}`,
    });
    return attempt;
  }
  const user = userById(ctx.db, actor.userId);
  const ok = user?.password_hash ? await verifyPassword(input.currentPassword, user.password_hash) : false;
  if (!user || !ok) {
    const at = ctx.clock().toISOString();
    ctx.db
      .transaction(() => {
        recordFailedAttempt(ctx.db, attempt);
        writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'password.change-failed', detail: `ip ${input.ip}` });
      })
      .immediate();
    return { kind: 'wrong-password' };
  }
  const hash = await hashPassword(input.newPassword);
  const at = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      recordSucceededAttempt(ctx.db, attempt, account);
      // Chosen by its owner, so it is permanent: the session is no longer limited to this form.
      setPasswordHash(ctx.db, user.id, hash, null);
      deleteOtherSessions(ctx.db, user.id, input.sessionHash);
      writeAudit(ctx.db, { at, userId: user.id, actor: actor.name, action: 'password.change', detail: `ip ${input.ip}` });
    })
    .immediate();
  return { kind: 'changed' };
}
