// The staff-editable lists (sections, task types, statuses, close reasons, categories) described as data.

export const LIST_KINDS = ['sections', 'task-types', 'statuses', 'close-reasons', 'categories'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

export interface ListKindInfo {
  table: string;
  /** Human word for messages: "task type 7 does not exist". */
  label: string;
  /** JSON field → column; only these are ever written. */
  columns: Record<string, string>;
  /** The tasks column that points here: a referenced entry cannot be deleted. */
  taskColumn: string;
}

const NAMED = { name: 'name', position: 'position' };

export const LIST_INFO: Record<ListKind, ListKindInfo> = {
  sections: {
    table: 'sections',
    label: 'section',
    taskColumn: 'section_id',
    columns: { slug: 'slug', description: 'description', ...NAMED },
  },
  'task-types': { table: 'task_types', label: 'task type', taskColumn: 'type_id', columns: NAMED },
  statuses: { table: 'statuses', label: 'status', taskColumn: 'status_id', columns: NAMED },
  'close-reasons': { table: 'close_reasons', label: 'close reason', taskColumn: 'close_reason_id', columns: NAMED },
  categories: { table: 'categories', label: 'category', taskColumn: 'category_id', columns: { parentId: 'parent_id', ...NAMED } },
};

export function isListKind(s: string): s is ListKind {
  return (LIST_KINDS as readonly string[]).includes(s);
}

/** Path from the root to `id` over a parent map; stops on a cycle rather than looping forever. */
export function categoryPath(id: number, byId: Map<number, { parentId: number | null; name: string }>): string[] {
  const path: string[] = [];
  const seen = new Set<number>();
  let cur: number | null = id;
  while (cur !== null && !seen.has(cur)) {
    seen.add(cur);
    const node = byId.get(cur);
    if (!node) break;
    path.unshift(node.name);
    cur = node.parentId;
  }
  return path;
}

/** True when making `newParent` the parent of `id` would put `id` among its own ancestors. */
export function wouldCreateCycle(id: number, newParent: number | null, byId: Map<number, { parentId: number | null }>): boolean {
  let cur = newParent;
  const seen = new Set<number>();
  while (cur !== null && !seen.has(cur)) {
    if (cur === id) return true;
    seen.add(cur);
    cur = byId.get(cur)?.parentId ?? null;
  }
  return false;
}
