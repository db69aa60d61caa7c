// Changes a domain's migration mode, legacy host or catch-all; nodes pick it up on their next sync, no restart. A change
// of mode here is a switch now: it cancels the domain's pending switches (reason switch-now), so none flips it back later.
import type { DomainPatch } from '#data/contracts/mail-config.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid, NotFound } from '../../domain/errors.ts';
import { findDomain, updateDomain as storeUpdate, domainRecord, type Domain } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { cancelPending } from './switches.ts';

export function updateDomain({ ctx, actor, name, patch }: { ctx: ServiceContext; actor: Actor; name: string; patch: DomainPatch }): Domain {
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const d = findDomain(ctx.db, name);
      if (!d) throw new NotFound(`The domain ${name} is not hosted.`);
      const next: Domain = {
        ...d,
        mode: patch.mode ?? d.mode,
        legacyHost: patch.legacyHost === undefined ? d.legacyHost : patch.legacyHost,
        legacyPort: patch.legacyPort === undefined ? d.legacyPort : patch.legacyPort,
        catchAll: patch.catchAll === undefined ? d.catchAll : patch.catchAll,
      };
      if (next.mode !== 'active' && next.legacyHost === null) {
        throw new Invalid('Legacy and shadow modes relay to the old MX, so they need a legacyHost.', [
          { field: 'legacyHost', message: 'required unless mode is active' },
        ]);
      }
      if (next.legacyHost === null && next.mode === d.mode && d.switches?.some((s) => s.mode !== 'active')) {
        throw new Invalid(
          'A pending switch to legacy or shadow mode relays to the old MX, so the legacyHost stays until it is cancelled.',
          [{ field: 'legacyHost', message: 'required by a pending switch' }],
        );
      }
      // Only a different mode supersedes the schedule: the staff form sends the current mode with every other edit.
      if (next.mode !== d.mode) cancelPending(ctx, d, now);
      const updated = storeUpdate(ctx.db, next, now);
      recordChange(ctx, actor, { entity: 'domain', key: d.name, op: 'upsert', record: domainRecord(updated) }, 'mail.domain.update', now);
      return updated;
    })
    .immediate();
}
