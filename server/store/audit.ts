// audit_log: who did what to which thing, written inside the transaction of the change itself. The one writer of the table.
import type { DB } from '#data/db.ts';

export interface AuditEntry {
  at: string;
  userId: number | null;
  /** Username, 'cli', 'system' (jobs), or the attempted login name. */
  actor: string;
  action: string;
  target?: string | null;
  detail?: string | null;
}

export function writeAudit(db: DB, e: AuditEntry): void {
  db.prepare('INSERT INTO audit_log (at, user_id, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)').run(
    e.at,
    e.userId,
    e.actor.slice(0, 200),
    e.action,
    e.target ?? null,
    e.detail ?? null,
  );
}

export interface AuditRow {
  id: number;
  at: string;
  user_id: number | null;
  actor: string;
  action: string;
  target: string | null;
  detail: string | null;
}

export function recentAudit(db: DB, limit = 100): AuditRow[] {
  return db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as AuditRow[];
}
