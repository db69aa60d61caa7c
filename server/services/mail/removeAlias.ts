// Deletes an alias or forwarding (and its address's policy, unless a mailbox still lives at the address).
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { findAlias, deleteAlias } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { dropAddressPolicyIfUnhosted } from './policyLevel.ts';

export function removeAlias({ ctx, actor, address }: { ctx: ServiceContext; actor: Actor; address: string }): void {
  const now = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      const a = findAlias(ctx.db, address);
      if (!a) throw new NotFound(`There is no alias ${address}.`);
      deleteAlias(ctx.db, a.id);
      // The address's policy goes with the last thing hosted at it (a mailbox may share the alias's address), logged first.
      dropAddressPolicyIfUnhosted(ctx, actor, a.address, now);
      recordChange(ctx, actor, { entity: 'alias', key: a.address, op: 'delete' }, 'mail.alias.remove', now);
    })
    .immediate();
}
