// Deletes a list entry nobody uses any more; one still referenced by a task (or a child category) is a Conflict.
import type { ServiceContext, Actor } from '../context.ts';
import { LIST_INFO, type ListKind } from '../../domain/lists.ts';
import { Conflict, NotFound } from '../../domain/errors.ts';
import { deleteEntry, entryById, usageOf } from '../../store/lists.ts';
import { writeAudit } from '../../store/audit.ts';

export function deleteListEntry({ ctx, actor, kind, id }: { ctx: ServiceContext; actor: Actor; kind: ListKind; id: number }): void {
  const at = ctx.clock().toISOString();
  const label = LIST_INFO[kind].label;
  ctx.db
    .transaction(() => {
      const entry = entryById(ctx.db, kind, id);
      if (!entry) throw new NotFound(`${label} ${id} does not exist.`);
      const used = usageOf(ctx.db, kind, id);
      if (used.tasks > 0) throw new Conflict(`${label} "${entry.name}" is used by ${used.tasks} task(s); move them first.`);
      if (used.children > 0) throw new Conflict(`category "${entry.name}" has ${used.children} subcategories; move or delete them first.`);
      deleteEntry(ctx.db, kind, id);
      writeAudit(ctx.db, {
        at,
        userId: actor.userId,
        actor: actor.name,
        action: 'list.delete',
        target: `${kind}/${id}`,
        detail: entry.name,
      });
    })
    .immediate();
  ctx.changes.bump();
}
