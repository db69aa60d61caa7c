// Reads what an outbox event says about a task, a comment or a section, inside the transaction that writes it.
import type { DB } from '#data/db.ts';
import type { NotifyTask } from '../domain/notify-payload.ts';

export interface NotifyTaskFacts extends NotifyTask {
  sectionId: number | null;
  type: string;
  openedBy: string;
  detailsHtml: string;
}

/** The task as it is now (the public page's names: status, section, type, who opened it). */
export function notifyTaskFacts(db: DB, taskId: number): NotifyTaskFacts | undefined {
  const row = db
    .prepare(
      `SELECT t.id, t.summary, st.name AS status, t.percent, t.is_closed, t.section_id, s.slug, s.name AS section_name,
              ty.name AS type, u.display_name AS opened_by, t.details_html
       FROM tasks t JOIN statuses st ON st.id = t.status_id JOIN task_types ty ON ty.id = t.type_id
       JOIN users u ON u.id = t.opened_by LEFT JOIN sections s ON s.id = t.section_id WHERE t.id = ?`,
    )
    .get(taskId) as
    | {
        id: number;
        summary: string;
        status: string;
        percent: number;
        is_closed: 0 | 1;
        section_id: number | null;
        slug: string | null;
        section_name: string | null;
        type: string;
        opened_by: string;
        details_html: string;
      }
    | undefined;
  if (!row) return undefined;
  return {
    id: row.id,
    summary: row.summary,
    status: row.status,
    percent: row.percent,
    closed: row.is_closed === 1,
    section: row.section_id !== null && row.slug !== null && row.section_name !== null ? { slug: row.slug, name: row.section_name } : null,
    sectionId: row.section_id,
    type: row.type,
    openedBy: row.opened_by,
    detailsHtml: row.details_html,
  };
}

/** A stored comment as the public page shows it: its sanitized HTML and its author's display name. */
export function notifyComment(db: DB, commentId: number): { bodyHtml: string; author: string } | undefined {
  return db
    .prepare('SELECT c.body_html AS bodyHtml, u.display_name AS author FROM comments c JOIN users u ON u.id = c.author_id WHERE c.id = ?')
    .get(commentId) as { bodyHtml: string; author: string } | undefined;
}

export function sectionById(db: DB, id: number): { id: number; slug: string; name: string } | undefined {
  return db.prepare('SELECT id, slug, name FROM sections WHERE id = ?').get(id) as { id: number; slug: string; name: string } | undefined;
}

/** The values a history entry holds, read before a redaction wipes them. */
export function historyValues(db: DB, entryId: number): (string | null)[] {
  const row = db.prepare('SELECT old_value, new_value FROM task_history WHERE id = ?').get(entryId) as
    | { old_value: string | null; new_value: string | null }
    | undefined;
  return row ? [row.old_value, row.new_value] : [];
}

/** The outbox rows of a task, payloads as stored (JSON). */
export function taskEventPayloads(db: DB, taskId: number): { id: number; payload: string }[] {
  return db.prepare('SELECT id, payload FROM notify_events WHERE task_id = ? ORDER BY id').all(taskId) as { id: number; payload: string }[];
}

export function rewriteEventPayload(db: DB, id: number, payload: string): void {
  db.prepare('UPDATE notify_events SET payload = ? WHERE id = ?').run(payload, id);
}
