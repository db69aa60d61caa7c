// The read-only SQL behind the public status snapshot: every public fact in a handful of queries.
import type { DB } from '#data/db.ts';

export interface SectionRow {
  id: number;
  slug: string;
  name: string;
  description: string;
}
export interface TaskRow {
  id: number;
  summary: string;
  details_html: string;
  type: string;
  category_id: number;
  section_id: number | null;
  status: string;
  percent: number;
  is_closed: number;
  close_reason: string | null;
  closed_by: string | null;
  closed_at: string | null;
  opened_by: string;
  opened_at: string;
  last_edited_at: string;
}
export interface CommentRow {
  id: number;
  task_id: number;
  author: string;
  created_at: string;
  body_html: string;
}
export interface PhaseRow {
  task_id: number;
  title: string;
  starts_at: string | null;
  ends_at: string | null;
  note: string;
}
export interface CategoryRow {
  id: number;
  parent_id: number | null;
  name: string;
}

export interface PublicRows {
  sections: SectionRow[];
  tasks: TaskRow[];
  comments: CommentRow[];
  phases: PhaseRow[];
  categories: CategoryRow[];
  taskTypes: string[];
  statuses: string[];
}

/** Reads in one transaction so the snapshot never mixes two versions of the data. */
export function readPublicRows(db: DB): PublicRows {
  return db.transaction(
    (): PublicRows => ({
      sections: db.prepare('SELECT id, slug, name, description FROM sections ORDER BY position, name').all() as SectionRow[],
      tasks: db
        .prepare(`
      SELECT t.id, t.summary, t.details_html, ty.name AS type, t.category_id, t.section_id, st.name AS status,
             t.percent, t.is_closed, cr.name AS close_reason, cu.display_name AS closed_by, t.closed_at,
             ou.display_name AS opened_by, t.opened_at, t.last_edited_at
        FROM tasks t
        JOIN task_types ty ON ty.id = t.type_id
        JOIN statuses st ON st.id = t.status_id
        JOIN users ou ON ou.id = t.opened_by
        LEFT JOIN users cu ON cu.id = t.closed_by
        LEFT JOIN close_reasons cr ON cr.id = t.close_reason_id
       ORDER BY t.last_edited_at DESC, t.id DESC`)
        .all() as TaskRow[],
      comments: db
        .prepare(`
      SELECT c.id, c.task_id, u.display_name AS author, c.created_at, c.body_html
        FROM comments c JOIN users u ON u.id = c.author_id
       ORDER BY c.task_id, c.created_at, c.id`)
        .all() as CommentRow[],
      phases: db.prepare('SELECT task_id, title, starts_at, ends_at, note FROM phases ORDER BY task_id, position, id').all() as PhaseRow[],
      categories: db.prepare('SELECT id, parent_id, name FROM categories').all() as CategoryRow[],
      taskTypes: (db.prepare('SELECT name FROM task_types ORDER BY position, name').all() as { name: string }[]).map((r) => r.name),
      statuses: (db.prepare('SELECT name FROM statuses ORDER BY position, name').all() as { name: string }[]).map((r) => r.name),
    }),
  )();
}
