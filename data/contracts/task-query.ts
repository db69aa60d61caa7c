// The task list's filters, search, sorting and paging: pure functions of the snapshot and the query string.
import type { TaskView } from './status.ts';

export const SORT_KEYS = ['id', 'type', 'category', 'summary', 'status', 'lastEdited', 'progress'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const PAGE_SIZE = 50;

export interface TaskQuery {
  section: string;
  type: string;
  status: string;
  show: 'all' | 'open' | 'closed';
  q: string;
  sort: SortKey;
  dir: 'asc' | 'desc';
  page: number;
}

export function parseTaskQuery(params: URLSearchParams): TaskQuery {
  const sort = params.get('sort') ?? '';
  const show = params.get('show') ?? '';
  const page = Number(params.get('page'));
  return {
    section: params.get('section') ?? '',
    type: params.get('type') ?? '',
    status: params.get('status') ?? '',
    show: show === 'open' || show === 'closed' ? show : 'all',
    q: (params.get('q') ?? '').trim().slice(0, 200),
    sort: (SORT_KEYS as readonly string[]).includes(sort) ? (sort as SortKey) : 'lastEdited',
    dir:
      params.get('dir') === 'asc'
        ? 'asc'
        : params.get('dir') === 'desc'
          ? 'desc'
          : sort && sort !== 'lastEdited' && sort !== 'id' && sort !== 'progress'
            ? 'asc'
            : 'desc',
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

/** What the status column shows: the seed shows "Closed" for a closed task whatever its last status was. */
export function publicStatus(t: TaskView): string {
  return t.isClosed ? 'Closed' : t.status;
}

function plainText(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function matchesSearch(t: TaskView, words: string[]): boolean {
  if (words.length === 0) return true;
  const hay = [
    `fs#${t.id}`,
    t.summary,
    t.type,
    t.categoryPath.join(' '),
    plainText(t.detailsHtml),
    ...t.comments.map((c) => plainText(c.bodyHtml)),
  ]
    .join(' ')
    .toLowerCase();
  return words.every((w) => hay.includes(w));
}

function sortValue(t: TaskView, key: SortKey): string | number {
  switch (key) {
    case 'id':
      return t.id;
    case 'type':
      return t.type.toLowerCase();
    case 'category':
      return t.categoryPath.join(' / ').toLowerCase();
    case 'summary':
      return t.summary.toLowerCase();
    case 'status':
      return publicStatus(t).toLowerCase();
    case 'lastEdited':
      return t.lastEditedAt;
    case 'progress':
      return t.percent;
  }
}

export interface TaskPage {
  rows: TaskView[];
  total: number;
  page: number;
  pages: number;
}

export function queryTasks(all: readonly TaskView[], q: TaskQuery): TaskPage {
  const words = q.q.toLowerCase().split(/\s+/).filter(Boolean);
  const filtered = all.filter(
    (t) =>
      (!q.section || t.section?.slug === q.section) &&
      (!q.type || t.type === q.type) &&
      (!q.status || publicStatus(t) === q.status) &&
      (q.show === 'all' || (q.show === 'open') === !t.isClosed) &&
      matchesSearch(t, words),
  );
  const sign = q.dir === 'asc' ? 1 : -1;
  filtered.sort((a, b) => {
    const va = sortValue(a, q.sort);
    const vb = sortValue(b, q.sort);
    // Ties fall back to the id so paging is stable.
    return va < vb ? -sign : va > vb ? sign : (a.id - b.id) * sign;
  });
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
  const page = Math.min(q.page, pages);
  return { rows: filtered.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE), total: filtered.length, page, pages };
}

/** The list URL with some parameters changed; empty values are dropped so links stay short. */
export function taskListHref(q: TaskQuery, change: Partial<TaskQuery>): string {
  const next = { ...q, ...change };
  const params = new URLSearchParams();
  if (next.section) params.set('section', next.section);
  if (next.type) params.set('type', next.type);
  if (next.status) params.set('status', next.status);
  if (next.show !== 'all') params.set('show', next.show);
  if (next.q) params.set('q', next.q);
  if (next.sort !== 'lastEdited' || next.dir !== 'desc') {
    params.set('sort', next.sort);
    params.set('dir', next.dir);
  }
  if (next.page > 1) params.set('page', String(next.page));
  const s = params.toString();
  return s ? `/tasks?${s}` : '/tasks';
}
