// Creates an alias or forwarding: one address to internal and/or external targets, optionally keeping a local copy.
import type { AliasInput } from '#data/contracts/mail-config.ts';
import { splitAddress } from '#data/address.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid, Conflict } from '../../domain/errors.ts';
import { findDomain, findAlias, findMailbox, upsertAlias, aliasRecord, type Alias } from '../../store/mail.ts';
import { recordChange } from './record.ts';

export function addAlias({ ctx, actor, input }: { ctx: ServiceContext; actor: Actor; input: AliasInput }): Alias {
  const now = ctx.clock().toISOString();
  const domainName = splitAddress(input.address)!.domain;
  if (input.targets.some((t) => t.toLowerCase() === input.address)) {
    throw new Invalid('An alias cannot point at itself; use keepLocalCopy to keep a copy in its mailbox.', [
      { field: 'targets', message: 'contains the alias address' },
    ]);
  }
  return ctx.db
    .transaction(() => {
      const d = findDomain(ctx.db, domainName);
      if (!d)
        throw new Invalid(`The domain ${domainName} is not hosted; add it first.`, [{ field: 'address', message: 'domain is not hosted' }]);
      if (findAlias(ctx.db, input.address)) throw new Conflict(`The alias ${input.address} already exists.`);
      if (input.keepLocalCopy && !findMailbox(ctx.db, input.address)) {
        throw new Invalid(`keepLocalCopy needs a mailbox ${input.address} to keep the copy in.`, [
          { field: 'keepLocalCopy', message: 'no mailbox at this address' },
        ]);
      }
      const a = upsertAlias(ctx.db, d.id, input, now);
      recordChange(ctx, actor, { entity: 'alias', key: a.address, op: 'upsert', record: aliasRecord(a) }, 'mail.alias.add', now);
      return a;
    })
    .immediate();
}
