// SQL for the staff-editable lists; table and column names come only from LIST_INFO, never from input.
import type { DB } from '#data/db.ts';
import { LIST_INFO, categoryPath, type ListKind } from '../domain/lists.ts';

export type ListEntry = Record<string, unknown> & { id: number; name: string; position: number };

interface CategoryRow {
  id: number;
  parent_id: number | null;
  name: string;
  position: number;
}

export function categoryTree(db: DB): Map<number, { parentId: number | null; name: string; position: number }> {
  const rows = db.prepare('SELECT id, parent_id, name, position FROM categories').all() as CategoryRow[];
  return new Map(rows.map((r) => [r.id, { parentId: r.parent_id, name: r.name, position: r.position }]));
}

function toEntry(kind: ListKind, row: Record<string, unknown>, tree?: ReturnType<typeof categoryTree>): ListEntry {
  const out: Record<string, unknown> = { id: row.id };
  for (const [field, column] of Object.entries(LIST_INFO[kind].columns)) out[field] = row[column];
  if (kind === 'categories' && tree) out.path = categoryPath(row.id as number, tree);
  return out as ListEntry;
}

export function listEntries(db: DB, kind: ListKind): ListEntry[] {
  const info = LIST_INFO[kind];
  const rows = db.prepare(`SELECT * FROM ${info.table} ORDER BY position, id`).all() as Record<string, unknown>[];
  const tree = kind === 'categories' ? categoryTree(db) : undefined;
  return rows.map((r) => toEntry(kind, r, tree));
}

export function entryById(db: DB, kind: ListKind, id: number): ListEntry | undefined {
  const row = db.prepare(`SELECT * FROM ${LIST_INFO[kind].table} WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return toEntry(kind, row, kind === 'categories' ? categoryTree(db) : undefined);
}

/** Finds an entry by id (digits) or by name (case-insensitive); sections also by slug. */
export function entryByKey(db: DB, kind: ListKind, key: string): ListEntry | undefined {
  const table = LIST_INFO[kind].table;
  const bySlug = kind === 'sections' ? ' OR slug = ?' : '';
  const params: unknown[] = [/^\d+$/.test(key) ? Number(key) : -1, key];
  if (bySlug) params.push(key);
  const row = db.prepare(`SELECT * FROM ${table} WHERE id = ? OR name = ? COLLATE NOCASE${bySlug} ORDER BY id LIMIT 1`).get(...params) as
    | Record<string, unknown>
    | undefined;
  return row ? toEntry(kind, row, kind === 'categories' ? categoryTree(db) : undefined) : undefined;
}

function columnsOf(kind: ListKind, values: Record<string, unknown>): [string[], unknown[]] {
  const cols: string[] = [];
  const vals: unknown[] = [];
  for (const [field, column] of Object.entries(LIST_INFO[kind].columns)) {
    if (values[field] !== undefined) {
      cols.push(column);
      vals.push(values[field]);
    }
  }
  return [cols, vals];
}

export function insertEntry(db: DB, kind: ListKind, values: Record<string, unknown>): number {
  const [cols, vals] = columnsOf(kind, values);
  const r = db.prepare(`INSERT INTO ${LIST_INFO[kind].table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...vals);
  return Number(r.lastInsertRowid);
}

/** One past the largest position in a list, so a new entry without a position sorts last. */
export function nextPosition(db: DB, kind: ListKind): number {
  return (
    db.prepare(`SELECT min(coalesce(max(position), -1) + 1, 1000000) AS next FROM ${LIST_INFO[kind].table}`).get() as { next: number }
  ).next;
}

export function updateEntry(db: DB, kind: ListKind, id: number, values: Record<string, unknown>): void {
  const [cols, vals] = columnsOf(kind, values);
  if (cols.length === 0) return;
  db.prepare(`UPDATE ${LIST_INFO[kind].table} SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...vals, id);
}

export function deleteEntry(db: DB, kind: ListKind, id: number): void {
  db.prepare(`DELETE FROM ${LIST_INFO[kind].table} WHERE id = ?`).run(id);
}

/** How many tasks (and, for categories, child categories) still point at an entry. */
export function usageOf(db: DB, kind: ListKind, id: number): { tasks: number; children: number } {
  const tasks = (db.prepare(`SELECT count(*) AS n FROM tasks WHERE ${LIST_INFO[kind].taskColumn} = ?`).get(id) as { n: number }).n;
  const children =
    kind === 'categories' ? (db.prepare('SELECT count(*) AS n FROM categories WHERE parent_id = ?').get(id) as { n: number }).n : 0;
  return { tasks, children };
}

/** Display text of an entry for history rows: a name, or a category's path joined with arrows. */
export function displayOf(db: DB, kind: ListKind, id: number | null): string | null {
  if (id === null) return null;
  if (kind === 'categories') {
    const path = categoryPath(id, categoryTree(db));
    return path.length ? path.join(' → ') : null;
  }
  const row = db.prepare(`SELECT name FROM ${LIST_INFO[kind].table} WHERE id = ?`).get(id) as { name: string } | undefined;
  return row?.name ?? null;
}
