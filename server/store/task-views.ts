// SQL reads of the task tracker, shaped as the public contracts in data/contracts/tasks.ts.
import type { DB } from '#data/db.ts';
import {
  taskRef,
  type Task,
  type TaskListItem,
  type HistoryEntry,
  type TaskListQuery,
  type Comment,
  type Phase,
} from '#data/contracts/tasks.ts';
import { categoryPath } from '../domain/lists.ts';
import { categoryTree } from './lists.ts';
import { phaseRows } from './tasks.ts';

const SELECT_ROW = `SELECT t.*, ty.name AS type_name, c.name AS category_name, s.slug AS section_slug, s.name AS section_name,
    st.name AS status_name, cr.name AS reason_name, ob.display_name AS opened_by_name, cb.display_name AS closed_by_name
  FROM tasks t
  JOIN task_types ty ON ty.id = t.type_id
  JOIN categories c ON c.id = t.category_id
  LEFT JOIN sections s ON s.id = t.section_id
  JOIN statuses st ON st.id = t.status_id
  LEFT JOIN close_reasons cr ON cr.id = t.close_reason_id
  JOIN users ob ON ob.id = t.opened_by
  LEFT JOIN users cb ON cb.id = t.closed_by`;

// Sorting by names rather than ids: that is what the column shows.
const SORT_SQL: Record<TaskListQuery['sort'], string> = {
  id: 't.id',
  type: 'ty.name COLLATE NOCASE',
  category: 'c.name COLLATE NOCASE',
  summary: 't.summary COLLATE NOCASE',
  status: 'st.name COLLATE NOCASE',
  last_edited: 't.last_edited_at',
  progress: 't.percent',
};

/**
 * A row of SELECT_ROW: the tasks columns and the joined names. A LEFT JOINed name is null exactly when its id
 * column is, so it is typed as present and read only after that id is checked.
 */
interface TaskRow {
  id: number;
  summary: string;
  details_md: string;
  details_html: string;
  type_id: number;
  type_name: string;
  category_id: number;
  category_name: string;
  section_id: number | null;
  section_slug: string;
  section_name: string;
  status_id: number;
  status_name: string;
  percent: number;
  is_closed: 0 | 1;
  close_reason_id: number | null;
  reason_name: string;
  closed_by: number | null;
  closed_by_name: string;
  closed_at: string | null;
  opened_by: number;
  opened_by_name: string;
  opened_at: string;
  last_edited_at: string;
  version: number;
}

interface CommentRow {
  id: number;
  created_at: string;
  body_md: string;
  body_html: string;
  author_id: number;
  display_name: string;
}

/**
 * A task_history row with the names of its user and of the redacting admin, each null exactly when its id is, and
 * redacted_by null unless redacted_at is set (a CHECK keeps it set then): typed as present, read only after those checks.
 */
interface HistoryRow {
  id: number;
  at: string;
  user_id: number | null;
  display_name: string;
  field: string;
  old_value: string | null;
  new_value: string | null;
  redacted_by: number;
  redacted_by_name: string;
  redacted_at: string | null;
}

function listItem(r: TaskRow, tree: ReturnType<typeof categoryTree>): TaskListItem {
  return {
    id: r.id,
    ref: taskRef(r.id),
    summary: r.summary,
    type: { id: r.type_id, name: r.type_name },
    category: { id: r.category_id, name: r.category_name, path: categoryPath(r.category_id, tree) },
    section: r.section_id === null ? null : { id: r.section_id, slug: r.section_slug, name: r.section_name },
    status: { id: r.status_id, name: r.status_name },
    percent: r.percent,
    closed: r.is_closed === 1,
    openedAt: r.opened_at,
    lastEditedAt: r.last_edited_at,
  };
}

export interface TaskFilter {
  sectionId?: number;
  typeId?: number;
  statusId?: number;
  state: 'open' | 'closed' | 'all';
  q?: string;
  sort: TaskListQuery['sort'];
  order: 'asc' | 'desc';
  page: number;
  perPage: number;
}

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;

export function listTasks(db: DB, f: TaskFilter): { items: TaskListItem[]; total: number } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.sectionId !== undefined) {
    where.push('t.section_id = ?');
    params.push(f.sectionId);
  }
  if (f.typeId !== undefined) {
    where.push('t.type_id = ?');
    params.push(f.typeId);
  }
  if (f.statusId !== undefined) {
    where.push('t.status_id = ?');
    params.push(f.statusId);
  }
  if (f.state !== 'all') where.push(`t.is_closed = ${f.state === 'closed' ? 1 : 0}`);
  if (f.q) {
    where.push(`(t.summary LIKE ? ESCAPE '\\' OR t.details_md LIKE ? ESCAPE '\\'
      OR EXISTS (SELECT 1 FROM comments cm WHERE cm.task_id = t.id AND cm.body_md LIKE ? ESCAPE '\\'))`);
    const p = likePattern(f.q);
    params.push(p, p, p);
  }
  const whereSql = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) AS n FROM (${SELECT_ROW}${whereSql})`).get(...params) as { n: number }).n;
  const dir = f.order === 'asc' ? 'ASC' : 'DESC';
  const rows = db
    .prepare(`${SELECT_ROW}${whereSql} ORDER BY ${SORT_SQL[f.sort]} ${dir}, t.id ${dir} LIMIT ? OFFSET ?`)
    .all(...params, f.perPage, (f.page - 1) * f.perPage) as TaskRow[];
  const tree = categoryTree(db);
  return { items: rows.map((r) => listItem(r, tree)), total };
}

export function commentsOf(db: DB, taskId: number): Comment[] {
  const rows = db
    .prepare(`SELECT cm.id, cm.created_at, cm.body_md, cm.body_html, u.id AS author_id, u.display_name
      FROM comments cm JOIN users u ON u.id = cm.author_id WHERE cm.task_id = ? ORDER BY cm.created_at, cm.id`)
    .all(taskId) as CommentRow[];
  return rows.map((r) => ({
    id: r.id,
    author: { id: r.author_id, displayName: r.display_name },
    at: r.created_at,
    markdown: r.body_md,
    html: r.body_html,
  }));
}

export function phasesOf(db: DB, taskId: number): Phase[] {
  return phaseRows(db, taskId).map((p) => ({
    position: p.position,
    title: p.title,
    startsAt: p.starts_at,
    endsAt: p.ends_at,
    note: p.note,
  }));
}

export function taskView(db: DB, id: number): Task | undefined {
  const r = db.prepare(`${SELECT_ROW} WHERE t.id = ?`).get(id) as TaskRow | undefined;
  if (!r) return undefined;
  return {
    ...listItem(r, categoryTree(db)),
    details: { markdown: r.details_md, html: r.details_html },
    closeReason: r.close_reason_id === null ? null : { id: r.close_reason_id, name: r.reason_name },
    closedBy: r.closed_by === null ? null : { id: r.closed_by, displayName: r.closed_by_name },
    closedAt: r.closed_at,
    openedBy: { id: r.opened_by, displayName: r.opened_by_name },
    version: r.version,
    comments: commentsOf(db, id),
    phases: phasesOf(db, id),
  };
}

export function historyOf(db: DB, taskId: number): HistoryEntry[] {
  const rows = db
    .prepare(`SELECT h.*, u.display_name, ru.display_name AS redacted_by_name FROM task_history h
      LEFT JOIN users u ON u.id = h.user_id LEFT JOIN users ru ON ru.id = h.redacted_by
      WHERE h.task_id = ? ORDER BY h.at, h.id`)
    .all(taskId) as HistoryRow[];
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    user: r.user_id === null ? null : { id: r.user_id, displayName: r.display_name },
    field: r.field,
    oldValue: r.old_value,
    newValue: r.new_value,
    redacted: r.redacted_at === null ? null : { by: { id: r.redacted_by, displayName: r.redacted_by_name }, at: r.redacted_at },
  }));
}
