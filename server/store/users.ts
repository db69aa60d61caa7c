// users: staff accounts (roles admin and staff); password hashes never leave this module's callers.
import type { DB } from '#data/db.ts';

export type Role = 'admin' | 'staff';

export interface UserRow {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  password_hash: string | null;
  disabled: 0 | 1;
  created_at: string;
  /** Set while the password is a generated one-time one: when it stops logging in if unused. */
  one_time_expires_at: string | null;
  /** When the one login a one-time password allows happened. */
  one_time_spent_at: string | null;
}

export function userByName(db: DB, username: string): UserRow | undefined {
  return db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
}

export function userById(db: DB, id: number): UserRow | undefined {
  return db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
}

export function allUsers(db: DB): UserRow[] {
  return db.prepare('SELECT * FROM users ORDER BY username COLLATE NOCASE').all() as UserRow[];
}

export function insertUser(
  db: DB,
  u: { username: string; displayName: string; role: Role; passwordHash: string; oneTimeExpiresAt: string | null; createdAt: string },
): number {
  const r = db
    .prepare(
      'INSERT INTO users (username, display_name, role, password_hash, one_time_expires_at, disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)',
    )
    .run(u.username, u.displayName, u.role, u.passwordHash, u.oneTimeExpiresAt, u.createdAt);
  return Number(r.lastInsertRowid);
}

/** A new password: one-time (with its expiry) when the system generated it, null when a person chose it. */
export function setPasswordHash(db: DB, id: number, hash: string, oneTimeExpiresAt: string | null): void {
  db.prepare('UPDATE users SET password_hash = ?, one_time_expires_at = ?, one_time_spent_at = NULL WHERE id = ?').run(
    hash,
    oneTimeExpiresAt,
    id,
  );
}

/** Uses up a one-time password; false when another login already did (so only one of two racing logins wins). */
export function spendOneTimePassword(db: DB, id: number, at: string): boolean {
  return (
    db
      .prepare('UPDATE users SET one_time_spent_at = ? WHERE id = ? AND one_time_expires_at IS NOT NULL AND one_time_spent_at IS NULL')
      .run(at, id).changes === 1
  );
}

export function setDisabled(db: DB, id: number, disabled: boolean): void {
  db.prepare('UPDATE users SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
}

/** Admins who can still log in: the last one must not be disabled. */
export function countActiveAdmins(db: DB): number {
  return (
    db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND password_hash IS NOT NULL").get() as { n: number }
  ).n;
}

/** The public face of a user: display name only. */
export function displayNameOf(db: DB, id: number | null): string | null {
  if (id === null) return null;
  return (db.prepare('SELECT display_name FROM users WHERE id = ?').get(id) as { display_name: string } | undefined)?.display_name ?? null;
}
