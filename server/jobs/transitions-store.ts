// SQL of the plan-transition job: open tasks with plans, transition marks, the automatic author.
import type { DB } from '#data/db.ts';
import type { PlanPhase, TransitionKind } from '../domain/plan.ts';

/** The author of automatic comments: a user nobody can log in as (no password, disabled). */
export const AUTOMATIC_AUTHOR = { username: 'tidings-automatic', displayName: 'Tidings (automatic)' } as const;

export interface PlannedTask {
  id: number;
  statusName: string;
  phases: PlanPhase[];
}

export function automaticAuthorId(db: DB, nowIso: string): number {
  const row = db.prepare('SELECT id FROM users WHERE username = ?').get(AUTOMATIC_AUTHOR.username) as { id: number } | undefined;
  if (row) return row.id;
  const r = db
    .prepare(`INSERT INTO users (username, display_name, role, password_hash, disabled, created_at)
    VALUES (?, ?, 'staff', NULL, 1, ?)`)
    .run(AUTOMATIC_AUTHOR.username, AUTOMATIC_AUTHOR.displayName, nowIso);
  return Number(r.lastInsertRowid);
}

export function openTaskIdsWithPlans(db: DB): number[] {
  return (
    db
      .prepare(`SELECT t.id FROM tasks t WHERE t.is_closed = 0 AND EXISTS (SELECT 1 FROM phases p WHERE p.task_id = t.id)
    ORDER BY t.id`)
      .all() as { id: number }[]
  ).map((r) => r.id);
}

/** Re-read inside the job's transaction, so a task closed or re-planned meanwhile is seen as it is now. */
export function loadPlannedTask(db: DB, id: number): PlannedTask | undefined {
  const t = db
    .prepare(`SELECT t.id, s.name AS statusName FROM tasks t JOIN statuses s ON s.id = t.status_id
    WHERE t.id = ? AND t.is_closed = 0`)
    .get(id) as { id: number; statusName: string } | undefined;
  if (!t) return undefined;
  const phases = db
    .prepare(`SELECT id, title, starts_at AS startsAt, ends_at AS endsAt FROM phases
    WHERE task_id = ? ORDER BY position, id`)
    .all(id) as PlanPhase[];
  return { ...t, phases };
}

export interface MarkInput {
  taskId: number;
  phaseId: number | undefined;
  phaseTitle: string;
  kind: TransitionKind;
  at: string;
  handledAt: string;
}

/** Claims a transition; false when it was handled before (the UNIQUE key decides, not a prior read). */
export function claimMark(db: DB, m: MarkInput): number | null {
  const r = db
    .prepare(`INSERT INTO transition_marks (task_id, phase_id, phase_title, kind, at, handled_at)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
    .run(m.taskId, m.phaseId ?? null, m.phaseTitle, m.kind, m.at, m.handledAt);
  return r.changes === 1 ? Number(r.lastInsertRowid) : null;
}

/** A phase renamed after it started has a mark under its old title at the same instant. */
export function markedAtSameInstant(db: DB, taskId: number, kind: TransitionKind, at: string, exceptId: number): boolean {
  return !!db
    .prepare('SELECT 1 FROM transition_marks WHERE task_id = ? AND kind = ? AND at = ? AND id <> ?')
    .get(taskId, kind, at, exceptId);
}

export function linkMarks(db: DB, markIds: number[], commentId: number): void {
  const stmt = db.prepare('UPDATE transition_marks SET comment_id = ? WHERE id = ?');
  for (const id of markIds) stmt.run(commentId, id);
}

export function insertComment(db: DB, taskId: number, authorId: number, at: string, md: string, html: string): number {
  const r = db
    .prepare('INSERT INTO comments (task_id, author_id, created_at, body_md, body_html) VALUES (?, ?, ?, ?, ?)')
    .run(taskId, authorId, at, md, html);
  return Number(r.lastInsertRowid);
}

export function statusIdByName(db: DB, name: string): number | undefined {
  return (db.prepare('SELECT id FROM statuses WHERE name = ?').get(name) as { id: number } | undefined)?.id;
}

/** Touches the task (last edited, version) and, if given, moves its status with a history row. */
export function touchTask(
  db: DB,
  taskId: number,
  authorId: number,
  nowIso: string,
  status?: { id: number; from: string; to: string },
): void {
  if (status) {
    db.prepare('UPDATE tasks SET status_id = ? WHERE id = ?').run(status.id, taskId);
    db.prepare(`INSERT INTO task_history (task_id, user_id, at, field, old_value, new_value) VALUES (?, ?, ?, 'status', ?, ?)`).run(
      taskId,
      authorId,
      nowIso,
      status.from,
      status.to,
    );
  }
  db.prepare('UPDATE tasks SET last_edited_at = max(last_edited_at, ?), version = version + 1 WHERE id = ?').run(nowIso, taskId);
}
