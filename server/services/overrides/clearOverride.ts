// Ends a section's override before its expiry; audited, public caches told. Clearing nothing is not an error.
import type { ServiceContext, Actor } from '../context.ts';
import { openWindow } from '../../store/notify-debounce.ts';
import { NotFound } from '../../domain/errors.ts';
import { sectionBySlug, deleteOverride } from '../../store/overrides.ts';
import { writeAudit } from '../../store/audit.ts';

export function clearOverride({ ctx, actor, slug }: { ctx: ServiceContext; actor: Actor; slug: string }): boolean {
  const at = ctx.clock().toISOString();
  const removed = ctx.db
    .transaction(() => {
      const section = sectionBySlug(ctx.db, slug);
      if (!section) throw new NotFound(`There is no section "${slug.slice(0, 60)}".`);
      const gone = deleteOverride(ctx.db, section.id);
      if (gone) {
        // Deliberate too: the state the section falls back to is announced when it is stored, not debounced.
        openWindow(ctx.db, section.id);
        writeAudit(ctx.db, {
          at,
          userId: actor.userId,
          actor: actor.name,
          action: 'section.override.clear',
          target: section.slug,
          detail: null,
        });
      }
      return gone;
    })
    .immediate();
  if (removed) ctx.changes.bump();
  return removed;
}
