// Checks a staff password under the rate limit and, on success, replaces any presented session with a new one.
import type { ServiceContext } from '../context.ts';
import { verifyPassword, DECOY_HASH } from '../../domain/password.ts';
import { reserveLoginAttempt, recordFailedAttempt, recordSucceededAttempt } from '../../http/ratelimit.ts';
import { SESSION_TTL_MS, newSessionSecret, newCsrfToken, hashSecret } from '../../http/session.ts';
import { userByName, type Role } from '../../store/users.ts';
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
  | { kind: 'ok'; user: { id: number; username: string; displayName: string; role: Role }; secret: string; csrfToken: string; expiresAt: Date }
  | { kind: 'invalid' }
  | { kind: 'limited'; retryAfterSeconds: number };

export async function login({ ctx, input }: { ctx: ServiceContext; input: LoginInput }): Promise<LoginResult> {
  const db = ctx.db;
  const account = input.username.toLowerCase();
  const started = ctx.clock();
  const attempt = reserveLoginAttempt(db, { account, ip: input.ip }, started);
  if (attempt.kind === 'limited') {
    writeAudit(db, { at: started.toISOString(), userId: null, actor: input.username, action: 'login.limited', detail: `ip ${input.ip}` });
    return attempt;
  }
  const user = userByName(db, input.username);
  // Always run the KDF, so an unknown name answers as slowly as a wrong password.
  const matches = await verifyPassword(input.password, user?.password_hash ?? DECOY_HASH);
  const now = ctx.clock();
  const at = now.toISOString();
  if (!user || !user.password_hash || user.disabled || !matches) {
    db.transaction(() => {
      recordFailedAttempt(db, attempt);
      writeAudit(db, { at, userId: user?.id ?? null, actor: input.username, action: 'login.failed', detail: `ip ${input.ip}` });
    }).immediate();
    return { kind: 'invalid' };
  }
  const secret = newSessionSecret();
  const csrfToken = newCsrfToken();
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
  db.transaction(() => {
    if (input.previousSecret) deleteSession(db, hashSecret(input.previousSecret));
    deleteExpiredSessions(db, at);
    recordSucceededAttempt(db, attempt, account);
    insertSession(db, { idHash: hashSecret(secret), userId: user.id, csrfToken, createdAt: at, expiresAt: expiresAt.toISOString() });
    writeAudit(db, { at, userId: user.id, actor: user.username, action: 'login', detail: `ip ${input.ip}` });
  }).immediate();
  return {
    kind: 'ok', secret, csrfToken, expiresAt,
    user: { id: user.id, username: user.username, displayName: user.display_name, role: user.role },
  };
}
