// Renames, reorders or (for categories) re-parents a list entry, audited; tasks follow by id.
import type { ServiceContext, Actor } from '../context.ts';
import { LIST_INFO, type ListKind } from '../../domain/lists.ts';
import { NotFound } from '../../domain/errors.ts';
import { updateEntry, entryById, type ListEntry } from '../../store/lists.ts';
import { writeAudit } from '../../store/audit.ts';
import { uniqueOrConflict, assertValidParent } from './guards.ts';

export function updateListEntry({
  ctx,
  actor,
  kind,
  id,
  values,
}: {
  ctx: ServiceContext;
  actor: Actor;
  kind: ListKind;
  id: number;
  values: Record<string, unknown>;
}): ListEntry {
  const at = ctx.clock().toISOString();
  const entry = ctx.db
    .transaction(() => {
      if (!entryById(ctx.db, kind, id)) throw new NotFound(`${LIST_INFO[kind].label} ${id} does not exist.`);
      if (kind === 'categories') assertValidParent(ctx.db, id, values.parentId as number | null | undefined);
      uniqueOrConflict(kind, () => updateEntry(ctx.db, kind, id, values));
      writeAudit(ctx.db, {
        at,
        userId: actor.userId,
        actor: actor.name,
        action: 'list.update',
        target: `${kind}/${id}`,
        detail: JSON.stringify(values),
      });
      return entryById(ctx.db, kind, id)!;
    })
    .immediate();
  ctx.changes.bump();
  return entry;
}
