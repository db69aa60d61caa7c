// sessions (keyed by the sha256 of the cookie value) and login_failures (the rate limiter's memory of attempts).
import type { DB } from '#data/db.ts';
import type { Role } from './users.ts';

export interface SessionWithUser {
  id_hash: string;
  csrf_token: string;
  expires_at: string;
  user_id: number;
  username: string;
  display_name: string;
  role: Role;
  /** 1 while the user's password is a generated one-time password: the session may only replace it. */
  must_change_password: 0 | 1;
}

export function insertSession(
  db: DB,
  s: { idHash: string; userId: number; csrfToken: string; createdAt: string; expiresAt: string },
): void {
  db.prepare('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(
    s.idHash,
    s.userId,
    s.csrfToken,
    s.createdAt,
    s.expiresAt,
  );
}

/** A live session of an enabled user, or nothing. */
export function liveSession(db: DB, idHash: string, now: string): SessionWithUser | undefined {
  return db
    .prepare(`SELECT s.id_hash, s.csrf_token, s.expires_at, u.id AS user_id, u.username, u.display_name, u.role,
           u.one_time_expires_at IS NOT NULL AS must_change_password
      FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0`)
    .get(idHash, now) as SessionWithUser | undefined;
}

export function deleteSession(db: DB, idHash: string): void {
  db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
}

export function deleteUserSessions(db: DB, userId: number): number {
  return db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
}

/** Ends every session of a user except the one in use (after a password change). */
export function deleteOtherSessions(db: DB, userId: number, keepIdHash: string): number {
  return db.prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?').run(userId, keepIdHash).changes;
}

export function deleteExpiredSessions(db: DB, now: string): void {
  db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
}

export type FailureScope = 'account' | 'ip';

/** An attempt whose password is still being checked; it counts like a failure until it settles. Returns its row id. */
export function insertPendingAttempt(db: DB, scope: FailureScope, key: string, at: string): number {
  return Number(db.prepare('INSERT INTO login_failures (scope, key, at, pending) VALUES (?, ?, ?, 1)').run(scope, key, at).lastInsertRowid);
}

/** The attempts' passwords were wrong: their rows stay, as failures. */
export function settleAttemptsAsFailures(db: DB, ids: readonly number[]): void {
  const settle = db.prepare('UPDATE login_failures SET pending = 0 WHERE id = ?');
  for (const id of ids) settle.run(id);
}

export function deleteAttempts(db: DB, ids: readonly number[]): void {
  const remove = db.prepare('DELETE FROM login_failures WHERE id = ?');
  for (const id of ids) remove.run(id);
}

/** Attempts (failed or still pending) since `since`, and the oldest of them (it decides when the block lifts). */
export function loginFailuresSince(db: DB, scope: FailureScope, key: string, since: string): { n: number; oldest: string | null } {
  return db
    .prepare('SELECT count(*) AS n, min(at) AS oldest FROM login_failures WHERE scope = ? AND key = ? AND at > ?')
    .get(scope, key, since) as { n: number; oldest: string | null };
}

/** Forgets settled failures only: attempts of others still being checked keep counting. */
export function clearLoginFailures(db: DB, scope: FailureScope, key: string): void {
  db.prepare('DELETE FROM login_failures WHERE scope = ? AND key = ? AND pending = 0').run(scope, key);
}

export function pruneLoginFailures(db: DB, before: string): void {
  db.prepare('DELETE FROM login_failures WHERE at <= ?').run(before);
}
