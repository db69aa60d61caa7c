// Checks a staff password under the rate limit and, on success, replaces any presented session with a new one.
import type { ServiceContext } from '../context.ts';
import { verifyPassword, DECOY_HASH } from '../../domain/password.ts';
import { reserveLoginAttempt, recordFailedAttempt, recordSucceededAttempt } from '../../http/ratelimit.ts';
import { SESSION_TTL_MS, newSessionSecret, newCsrfToken, hashSecret } from '../../http/session.ts';
import { userByName, userById, spendOneTimePassword, type Role, type UserRow } from '../../store/users.ts';
import { insertSession, deleteSession, deleteExpiredSessions } from '../../store/sessions.ts';
import { writeAudit } from '../../store/audit.ts';

export interface LoginInput {
  username: string;
  password: string;
  ip: string;
  /** The session cookie the browser sent, if any: it is ended so the old id never works again. */
  previousSecret?: string;
}

export type LoginResult =
  | {
      kind: 'ok';
      user: { id: number; username: string; displayName: string; role: Role };
      secret: string;
      csrfToken: string;
      expiresAt: Date;
      /** Logged in with a one-time password: the session may only set a new one. */
      mustChangePassword: boolean;
    }
  | { kind: 'invalid' }
  | { kind: 'limited'; retryAfterSeconds: number };

/** Why a login with these credentials is refused (its audit action), or null when it may go ahead. */
function refusal(user: UserRow | undefined, matches: boolean, now: Date): string | null {
  if (!user?.password_hash || user.disabled || !matches) return 'login.failed';
  if (user.one_time_expires_at !== null) {
    if (user.one_time_spent_at !== null) return 'login.one-time-spent';
    if (Date.parse(user.one_time_expires_at) <= now.getTime()) return 'login.one-time-expired';
  }
  return null;
}

export async function login({ ctx, input }: { ctx: ServiceContext; input: LoginInput }): Promise<LoginResult> {
  const db = ctx.db;
  const account = input.username.toLowerCase();
  const started = ctx.clock();
  const attempt = reserveLoginAttempt(db, { account, ip: input.ip }, started);
  if (attempt.kind === 'limited') {
    writeAudit(db, { at: started.toISOString(), userId: null, actor: input.username, action: 'login.limited', detail: `ip ${input.ip}` });
    return attempt;
  }
  const found = userByName(db, input.username);
  // Always run the KDF, so an unknown name answers as slowly as a wrong password.
  const matches = await verifyPassword(input.password, found?.password_hash ?? DECOY_HASH);
  const now = ctx.clock();
  const at = now.toISOString();
  return db
    .transaction((): LoginResult => {
      // Read again: while this password was hashed, another login may have spent a one-time password, or an admin
      // may have reset or disabled the account.
      const user = found && userById(db, found.id);
      const why = refusal(user, matches && user?.password_hash === found?.password_hash, now);
      if (why !== null || !user || (user.one_time_expires_at !== null && !spendOneTimePassword(db, user.id, at))) {
        recordFailedAttempt(db, attempt);
        writeAudit(db, {
          at,
          userId: user?.id ?? null,
          actor: input.username,
          action: why ?? 'login.one-time-spent',
          detail: `ip ${input.ip}`,
        });
        return { kind: 'invalid' };
      }
      const mustChangePassword = user.one_time_expires_at !== null;
      const secret = newSessionSecret();
      const csrfToken = newCsrfToken();
      const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
      if (input.previousSecret) deleteSession(db, hashSecret(input.previousSecret));
      deleteExpiredSessions(db, at);
      recordSucceededAttempt(db, attempt, account);
      insertSession(db, { idHash: hashSecret(secret), userId: user.id, csrfToken, createdAt: at, expiresAt: expiresAt.toISOString() });
      writeAudit(db, {
        at,
        userId: user.id,
        actor: user.username,
        action: 'login',
        detail: `ip ${input.ip}${mustChangePassword ? '; one-time password, must set a new one' : ''}`,
      });
      return {
        kind: 'ok',
        secret,
        csrfToken,
        expiresAt,
        mustChangePassword,
        user: { id: user.id, username: user.username, displayName: user.display_name, role: user.role },
      };
    })
    .immediate();
}
