// Deletes a mailbox from the configuration (stored mail is left alone: that is an operator's decision),
// and its address's policy unless an alias still lives at the address.
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { findMailbox, deleteMailbox } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { dropAddressPolicyIfUnhosted } from './policyLevel.ts';

export function removeMailbox({ ctx, actor, address }: { ctx: ServiceContext; actor: Actor; address: string }): void {
  const now = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      const m = findMailbox(ctx.db, address);
      if (!m) throw new NotFound(`There is no mailbox ${address}.`);
      deleteMailbox(ctx.db, m.id);
      // The address's policy goes with the last thing hosted at it (an alias may share the mailbox's address), logged first.
      dropAddressPolicyIfUnhosted(ctx, actor, m.address, now);
      recordChange(ctx, actor, { entity: 'mailbox', key: m.address, op: 'delete' }, 'mail.mailbox.remove', now);
    })
    .immediate();
}
