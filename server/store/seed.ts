// Applies the default lists and FS#2733 once per database; a seed that has run never runs again.
import type { DB } from '#data/db.ts';
import {
  DEFAULT_SECTIONS,
  DEFAULT_TASK_TYPES,
  DEFAULT_STATUSES,
  DEFAULT_CLOSE_REASONS,
  DEFAULT_CATEGORY_ROOT,
  DEFAULT_CATEGORY_CHILDREN,
  SEED_AUTHOR,
  FS2733,
} from '#data/seed/fs2733.ts';
import { renderMarkdown } from '../domain/markdown.ts';

function once(db: DB, name: string, now: string, apply: () => void): boolean {
  return db
    .transaction(() => {
      const done = db.prepare('SELECT 1 FROM seeds WHERE name = ?').get(name);
      if (done) return false;
      apply();
      db.prepare('INSERT INTO seeds (name, applied_at) VALUES (?, ?)').run(name, now);
      return true;
    })
    .immediate();
}

export function seedDefaults(db: DB, now: string): boolean {
  return once(db, 'defaults', now, () => {
    for (const [i, s] of DEFAULT_SECTIONS.entries()) {
      db.prepare('INSERT INTO sections (slug, name, description, position) VALUES (?, ?, ?, ?)').run(s.slug, s.name, s.description, i);
    }
    for (const [i, n] of DEFAULT_TASK_TYPES.entries()) db.prepare('INSERT INTO task_types (name, position) VALUES (?, ?)').run(n, i);
    for (const [i, n] of DEFAULT_STATUSES.entries()) db.prepare('INSERT INTO statuses (name, position) VALUES (?, ?)').run(n, i);
    for (const [i, n] of DEFAULT_CLOSE_REASONS.entries()) db.prepare('INSERT INTO close_reasons (name, position) VALUES (?, ?)').run(n, i);
    const root = db.prepare('INSERT INTO categories (parent_id, name, position) VALUES (NULL, ?, 0)').run(DEFAULT_CATEGORY_ROOT);
    for (const [i, n] of DEFAULT_CATEGORY_CHILDREN.entries()) {
      db.prepare('INSERT INTO categories (parent_id, name, position) VALUES (?, ?, ?)').run(root.lastInsertRowid, n, i);
    }
  });
}

function idOf(db: DB, table: string, column: string, value: string): number {
  const row = db.prepare(`SELECT id FROM ${table} WHERE ${column} = ?`).get(value) as { id: number } | undefined;
  if (!row) throw new Error(`seed: ${table}.${column} = ${value} is missing`);
  return row.id;
}

export function seedFs2733(db: DB, now: string): boolean {
  return once(db, 'fs2733', now, () => {
    if (db.prepare('SELECT 1 FROM tasks WHERE id = ?').get(FS2733.id)) return; // an import got there first
    let author = db.prepare('SELECT id FROM users WHERE username = ?').get(SEED_AUTHOR.username) as { id: number } | undefined;
    if (!author) {
      const r = db
        .prepare('INSERT INTO users (username, display_name, role, password_hash, disabled, created_at) VALUES (?, ?, ?, NULL, 1, ?)')
        .run(SEED_AUTHOR.username, SEED_AUTHOR.displayName, SEED_AUTHOR.role, FS2733.openedAt);
      author = { id: Number(r.lastInsertRowid) };
    }
    const [rootName, childName] = FS2733.categoryPath;
    const root = db.prepare('SELECT id FROM categories WHERE parent_id IS NULL AND name = ?').get(rootName) as { id: number };
    const category = db.prepare('SELECT id FROM categories WHERE parent_id = ? AND name = ?').get(root.id, childName) as { id: number };
    db.prepare(`INSERT INTO tasks (id, summary, details_md, details_html, type_id, category_id, section_id, status_id, percent,
        is_closed, close_reason_id, closed_by, closed_at, opened_by, opened_at, last_edited_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`).run(
      FS2733.id,
      FS2733.summary,
      FS2733.details,
      renderMarkdown(FS2733.details),
      idOf(db, 'task_types', 'name', FS2733.type),
      category.id,
      idOf(db, 'sections', 'slug', FS2733.section),
      idOf(db, 'statuses', 'name', FS2733.status),
      FS2733.percent,
      idOf(db, 'close_reasons', 'name', FS2733.closeReason),
      author.id,
      FS2733.closedAt,
      author.id,
      FS2733.openedAt,
      FS2733.lastEditedAt,
    );
    for (const c of FS2733.comments) {
      db.prepare('INSERT INTO comments (task_id, author_id, created_at, body_md, body_html) VALUES (?, ?, ?, ?, ?)').run(
        FS2733.id,
        author.id,
        c.at,
        c.body,
        renderMarkdown(c.body),
      );
    }
    for (const [i, p] of FS2733.phases.entries()) {
      db.prepare('INSERT INTO phases (task_id, position, title, starts_at, ends_at) VALUES (?, ?, ?, ?, ?)').run(
        FS2733.id,
        i,
        p.title,
        p.startsAt,
        p.endsAt,
      );
    }
  });
}

export function seedAll(db: DB, now: string): void {
  seedDefaults(db, now);
  seedFs2733(db, now);
}
