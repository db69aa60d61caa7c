// SQL writes of the task tracker: task rows, comments, phases and the per-field history.
import type { DB } from '#data/db.ts';
import type { FieldChange } from '../domain/task-rules.ts';

export interface TaskRow {
  id: number;
  summary: string;
  details_md: string;
  details_html: string;
  type_id: number;
  category_id: number;
  section_id: number | null;
  status_id: number;
  percent: number;
  is_closed: 0 | 1;
  close_reason_id: number | null;
  closed_by: number | null;
  closed_at: string | null;
  opened_by: number;
  opened_at: string;
  last_edited_at: string;
  version: number;
}

const WRITABLE = new Set([
  'summary',
  'details_md',
  'details_html',
  'type_id',
  'category_id',
  'section_id',
  'status_id',
  'percent',
  'is_closed',
  'close_reason_id',
  'closed_by',
  'closed_at',
  'last_edited_at',
  'version',
]);

export function taskRow(db: DB, id: number): TaskRow | undefined {
  return db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow | undefined;
}

export function insertTask(
  db: DB,
  t: Omit<TaskRow, 'id' | 'version' | 'is_closed' | 'close_reason_id' | 'closed_by' | 'closed_at'> & { id?: number },
): number {
  const r = db
    .prepare(`INSERT INTO tasks (id, summary, details_md, details_html, type_id, category_id, section_id, status_id, percent,
      opened_by, opened_at, last_edited_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(
      t.id ?? null,
      t.summary,
      t.details_md,
      t.details_html,
      t.type_id,
      t.category_id,
      t.section_id,
      t.status_id,
      t.percent,
      t.opened_by,
      t.opened_at,
      t.last_edited_at,
    );
  return Number(r.lastInsertRowid);
}

/** The id SQLite gives the next task inserted without one: one past the largest (tasks.id is a rowid without AUTOINCREMENT). */
export function nextTaskId(db: DB): number {
  return (db.prepare('SELECT coalesce(max(id), 0) + 1 AS next FROM tasks').get() as { next: number }).next;
}

/** Writes the given columns only; the column names are checked against a fixed list. */
export function updateTask(db: DB, id: number, fields: Partial<Omit<TaskRow, 'id'>>): void {
  const cols = Object.keys(fields);
  for (const c of cols) if (!WRITABLE.has(c)) throw new Error(`updateTask: ${c} is not writable`);
  if (cols.length === 0) return;
  db.prepare(`UPDATE tasks SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`).run(
    ...cols.map((c) => (fields as Record<string, unknown>)[c]),
    id,
  );
}

export function insertHistory(db: DB, taskId: number, userId: number | null, at: string, changes: FieldChange[]): void {
  const stmt = db.prepare('INSERT INTO task_history (task_id, user_id, at, field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?)');
  for (const ch of changes) stmt.run(taskId, userId, at, ch.field, ch.oldValue, ch.newValue);
}

export interface HistoryRow {
  id: number;
  task_id: number;
  at: string;
  field: string;
  redacted_at: string | null;
}

export function historyRow(db: DB, taskId: number, entryId: number): HistoryRow | undefined {
  return db.prepare('SELECT id, task_id, at, field, redacted_at FROM task_history WHERE id = ? AND task_id = ?').get(entryId, taskId) as
    | HistoryRow
    | undefined;
}

/** Overwrites both values of an entry (the row and its field name stay); false when it was redacted already. */
export function redactHistoryRow(db: DB, entryId: number, byUserId: number, at: string): boolean {
  return (
    db
      .prepare(`UPDATE task_history SET old_value = NULL, new_value = NULL, redacted_by = ?, redacted_at = ?
      WHERE id = ? AND redacted_at IS NULL`)
      .run(byUserId, at, entryId).changes === 1
  );
}

/**
 * Empties the write-ahead log into the database file and truncates it. The log keeps earlier page images (a value
 * before it was overwritten) until frames are reused; after a redaction they must not survive in the file.
 */
export function truncateWriteAheadLog(db: DB): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}

export function insertComment(db: DB, c: { taskId: number; authorId: number; at: string; bodyMd: string; bodyHtml: string }): number {
  const r = db
    .prepare('INSERT INTO comments (task_id, author_id, created_at, body_md, body_html) VALUES (?, ?, ?, ?, ?)')
    .run(c.taskId, c.authorId, c.at, c.bodyMd, c.bodyHtml);
  return Number(r.lastInsertRowid);
}

export interface PhaseRow {
  position: number;
  title: string;
  starts_at: string | null;
  ends_at: string | null;
  note: string;
}

export function phaseRows(db: DB, taskId: number): PhaseRow[] {
  return db
    .prepare('SELECT position, title, starts_at, ends_at, note FROM phases WHERE task_id = ? ORDER BY position, id')
    .all(taskId) as PhaseRow[];
}

export function replacePhaseRows(
  db: DB,
  taskId: number,
  phases: { title: string; startsAt: string | null; endsAt: string | null; note: string }[],
): void {
  db.prepare('DELETE FROM phases WHERE task_id = ?').run(taskId);
  const stmt = db.prepare('INSERT INTO phases (task_id, position, title, starts_at, ends_at, note) VALUES (?, ?, ?, ?, ?, ?)');
  for (const [i, p] of phases.entries()) stmt.run(taskId, i, p.title, p.startsAt, p.endsAt, p.note);
}
