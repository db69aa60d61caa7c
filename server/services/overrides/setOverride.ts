// Sets (or replaces) a section's state override; audited in the same transaction, public caches told.
import type { ServiceState } from '#data/contracts/states.ts';
import type { NotifyingContext, Actor } from '../context.ts';
import { Invalid, NotFound } from '../../domain/errors.ts';
import { toStateOverride } from './active.ts';
import { sectionBySlug, upsertOverride, overrideOfSection, type OverrideRow } from '../../store/overrides.ts';
import { writeAudit } from '../../store/audit.ts';
import { announceSectionState } from '../notify/section-state.ts';

/** An override is a stopgap; a forgotten one must not lie for ever. */
export const MAX_OVERRIDE_MS = 30 * 86_400_000;

export interface SetOverrideInput {
  state: ServiceState;
  note: string;
  expiresAt: string;
}

export function setOverride({
  ctx,
  actor,
  slug,
  input,
}: {
  ctx: NotifyingContext;
  actor: Actor;
  slug: string;
  input: SetOverrideInput;
}): OverrideRow {
  const now = ctx.clock();
  const at = now.toISOString();
  const expires = Date.parse(input.expiresAt);
  if (!(expires > now.getTime()))
    throw new Invalid('The override would already be over.', [{ field: 'expiresAt', message: 'must be in the future' }]);
  if (expires - now.getTime() > MAX_OVERRIDE_MS)
    throw new Invalid('An override can last at most 30 days.', [{ field: 'expiresAt', message: 'at most 30 days ahead' }]);
  const row = ctx.db
    .transaction(() => {
      const section = sectionBySlug(ctx.db, slug);
      if (!section) throw new NotFound(`There is no section "${slug.slice(0, 60)}".`);
      upsertOverride(ctx.db, {
        sectionId: section.id,
        state: input.state,
        note: input.note,
        setBy: actor.userId,
        setAt: at,
        expiresAt: new Date(expires).toISOString(),
      });
      // Deliberate, so subscribers hear of it at once (when it changes what the section shows them).
      const reason = toStateOverride(overrideOfSection(ctx.db, section.id)!).reason;
      announceSectionState(ctx.db, ctx.publicUrl, { sectionId: section.id, at, state: input.state, reason, deliberate: true });
      writeAudit(ctx.db, {
        at,
        userId: actor.userId,
        actor: actor.name,
        action: 'section.override.set',
        target: section.slug,
        detail: `${input.state} until ${new Date(expires).toISOString()}${input.note ? `: ${input.note}` : ''}`,
      });
      return overrideOfSection(ctx.db, section.id)!;
    })
    .immediate();
  ctx.changes.bump();
  return row;
}
