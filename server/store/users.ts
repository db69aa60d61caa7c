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

export function insertUser(db: DB, u: { username: string; displayName: string; role: Role; passwordHash: string; createdAt: string }): number {
  const r = db.prepare('INSERT INTO users (username, display_name, role, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, 0, ?)')
    .run(u.username, u.displayName, u.role, u.passwordHash, u.createdAt);
  return Number(r.lastInsertRowid);
}

export function setPasswordHash(db: DB, id: number, hash: string): void {
  db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, id);
}

export function setDisabled(db: DB, id: number, disabled: boolean): void {
  db.prepare('UPDATE users SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
}

/** Admins who can still log in: the last one must not be disabled. */
export function countActiveAdmins(db: DB): number {
  return (db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND password_hash IS NOT NULL").get() as { n: number }).n;
}

/** The public face of a user: display name only. */
export function displayNameOf(db: DB, id: number | null): string | null {
  if (id === null) return null;
  return (db.prepare('SELECT display_name FROM users WHERE id = ?').get(id) as { display_name: string } | undefined)?.display_name ?? null;
}
