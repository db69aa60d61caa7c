// Shared checks of list writes: a taken name is a Conflict, category parents must exist and not loop.
import type { DB } from '#data/db.ts';
import { Invalid, Conflict } from '../../domain/errors.ts';
import { LIST_INFO, wouldCreateCycle, type ListKind } from '../../domain/lists.ts';
import { categoryTree } from '../../store/lists.ts';

/** Runs a write; a UNIQUE violation means the name (or slug) is taken, which the caller can fix. */
export function uniqueOrConflict<T>(kind: ListKind, write: () => T): T {
  try {
    return write();
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new Conflict(`A ${LIST_INFO[kind].label} with that ${kind === 'sections' ? 'name or slug' : 'name'} already exists.`);
    }
    throw e;
  }
}

export function assertValidParent(db: DB, id: number | null, parentId: number | null | undefined): void {
  if (parentId === undefined || parentId === null) return;
  const tree = categoryTree(db);
  if (!tree.has(parentId))
    throw new Invalid(`unknown category ${parentId}`, [{ field: 'parentId', message: `unknown category ${parentId}` }]);
  if (id !== null && wouldCreateCycle(id, parentId, tree)) {
    throw new Invalid('A category cannot sit below itself.', [{ field: 'parentId', message: 'would make a loop in the category tree' }]);
  }
}
