// Adds an entry to a staff-editable list (section, task type, status, close reason, category), audited.
import type { ServiceContext, Actor } from '../context.ts';
import type { ListKind } from '../../domain/lists.ts';
import { insertEntry, entryById, nextPosition, type ListEntry } from '../../store/lists.ts';
import { writeAudit } from '../../store/audit.ts';
import { uniqueOrConflict, assertValidParent } from './guards.ts';

export function createListEntry({
  ctx,
  actor,
  kind,
  values,
}: {
  ctx: ServiceContext;
  actor: Actor;
  kind: ListKind;
  values: Record<string, unknown>;
}): ListEntry {
  const at = ctx.clock().toISOString();
  const entry = ctx.db
    .transaction(() => {
      if (kind === 'categories') assertValidParent(ctx.db, null, values.parentId as number | null | undefined);
      // Without a position a new entry goes last, not to the column default 0 among the first ones.
      const placed = values.position === undefined ? { ...values, position: nextPosition(ctx.db, kind) } : values;
      const id = uniqueOrConflict(kind, () => insertEntry(ctx.db, kind, placed));
      writeAudit(ctx.db, {
        at,
        userId: actor.userId,
        actor: actor.name,
        action: 'list.create',
        target: `${kind}/${id}`,
        detail: JSON.stringify(values),
      });
      return entryById(ctx.db, kind, id)!;
    })
    .immediate();
  ctx.changes.bump();
  return entry;
}
