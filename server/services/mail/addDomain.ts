// Starts hosting a domain (in legacy, shadow or active migration mode).
import type { DomainInput } from '#data/contracts/mail-config.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Conflict } from '../../domain/errors.ts';
import { findDomain, insertDomain, domainRecord, type Domain } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { withRelay } from './legacyDefault.ts';

export function addDomain({ ctx, actor, input }: { ctx: ServiceContext; actor: Actor; input: DomainInput }): Domain {
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      if (findDomain(ctx.db, input.name)) throw new Conflict(`The domain ${input.name} is already hosted.`);
      const d = insertDomain(ctx.db, withRelay(ctx.db, input, input.mode, 'legacyHost'), now);
      recordChange(ctx, actor, { entity: 'domain', key: d.name, op: 'upsert', record: domainRecord(d) }, 'mail.domain.add', now);
      return d;
    })
    .immediate();
}
