// Inserts public tasks straight into the backend database (the SQL the schema defines), for site tests and the benchmark.
import type { DB } from '#data/db.ts';

export interface TaskRowInput {
  id?: number;
  summary: string;
  detailsHtml?: string;
  type?: string;
  section?: string | null;
  status?: string;
  percent?: number;
  openedAt: string;
  lastEditedAt?: string;
  closed?: { at: string; reason?: string };
  phases?: { title: string; startsAt: string | null; endsAt: string | null }[];
  comments?: { at: string; html: string }[];
}

const idOf = (db: DB, sql: string, v: string) => {
  const row = db.prepare(sql).get(v) as { id: number } | undefined;
  if (!row) throw new Error(`fixture: nothing for ${v} (${sql})`);
  return row.id;
};

export function insertTask(db: DB, t: TaskRowInput): number {
  const author = idOf(db, 'SELECT id FROM users WHERE username = ?', 'legacy-admin');
  const sectionSlug = t.section === undefined ? 'email' : t.section;
  const sectionId = sectionSlug === null ? null : idOf(db, 'SELECT id FROM sections WHERE slug = ?', sectionSlug);
  const sectionName =
    sectionId === null ? 'Email' : (db.prepare('SELECT name FROM sections WHERE id = ?').get(sectionId) as { name: string }).name;
  const category = (
    db.prepare('SELECT c.id FROM categories c JOIN categories p ON p.id = c.parent_id WHERE c.name = ?').get(sectionName) as { id: number }
  ).id;
  const r = db
    .prepare(`INSERT INTO tasks (id, summary, details_md, details_html, type_id, category_id, section_id, status_id, percent,
      is_closed, close_reason_id, closed_by, closed_at, opened_by, opened_at, last_edited_at) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(
      t.id ?? null,
      t.summary,
      t.detailsHtml ?? '',
      idOf(db, 'SELECT id FROM task_types WHERE name = ?', t.type ?? 'Maintenance'),
      category,
      sectionId,
      idOf(db, 'SELECT id FROM statuses WHERE name = ?', t.status ?? 'Planned'),
      t.percent ?? 0,
      t.closed ? 1 : 0,
      t.closed ? idOf(db, 'SELECT id FROM close_reasons WHERE name = ?', t.closed.reason ?? 'Finished') : null,
      t.closed ? author : null,
      t.closed?.at ?? null,
      author,
      t.openedAt,
      t.lastEditedAt ?? t.closed?.at ?? t.openedAt,
    );
  const id = Number(r.lastInsertRowid);
  for (const [i, p] of (t.phases ?? []).entries()) {
    db.prepare('INSERT INTO phases (task_id, position, title, starts_at, ends_at) VALUES (?, ?, ?, ?, ?)').run(
      id,
      i,
      p.title,
      p.startsAt,
      p.endsAt,
    );
  }
  for (const c of t.comments ?? []) {
    db.prepare('INSERT INTO comments (task_id, author_id, created_at, body_md, body_html) VALUES (?, ?, ?, ?, ?)').run(
      id,
      author,
      c.at,
      c.html,
      c.html,
    );
  }
  return id;
}
