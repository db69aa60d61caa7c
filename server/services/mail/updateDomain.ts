// Changes a domain's migration mode, legacy host or catch-all; nodes pick it up on their next sync, no restart. A change
// of mode here is a switch now: it cancels the domain's pending switches (reason switch-now), so none flips it back later.
import type { DomainPatch } from '#data/contracts/mail-config.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid, NotFound } from '../../domain/errors.ts';
import { findDomain, updateDomain as storeUpdate, domainRecord, type Domain } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { cancelPending } from './switches.ts';
import { installationLegacyDefault, withRelay } from './legacyDefault.ts';

export function updateDomain({ ctx, actor, name, patch }: { ctx: ServiceContext; actor: Actor; name: string; patch: DomainPatch }): Domain {
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const d = findDomain(ctx.db, name);
      if (!d) throw new NotFound(`The domain ${name} is not hosted.`);
      const mode = patch.mode ?? d.mode;
      let next: Domain = withRelay(
        ctx.db,
        {
          ...d,
          mode,
          legacyHost: patch.legacyHost === undefined ? d.legacyHost : patch.legacyHost,
          legacyPort: patch.legacyPort === undefined ? d.legacyPort : patch.legacyPort,
          catchAll: patch.catchAll === undefined ? d.catchAll : patch.catchAll,
        },
        mode,
        'legacyHost',
      );
      if (next.legacyHost === null && mode === d.mode && d.switches?.some((s) => s.mode !== 'active')) {
        if (!installationLegacyDefault(ctx.db))
          throw new Invalid(
            'A pending switch to legacy or shadow mode relays to the old MX, so the legacyHost stays until it is cancelled.',
            [{ field: 'legacyHost', message: 'required by a pending switch' }],
          );
        next = withRelay(ctx.db, next, 'legacy', 'legacyHost');
      }
      // Only a different mode supersedes the schedule: the staff form sends the current mode with every other edit.
      if (next.mode !== d.mode) cancelPending(ctx, d, now);
      const updated = storeUpdate(ctx.db, next, now);
      recordChange(ctx, actor, { entity: 'domain', key: d.name, op: 'upsert', record: domainRecord(updated) }, 'mail.domain.update', now);
      return updated;
    })
    .immediate();
}
