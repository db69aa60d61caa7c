// Deletes a mailbox from the configuration (stored mail is left alone: that is an operator's decision).
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { findMailbox, deleteMailbox } from '../../store/mail.ts';
import { recordChange } from './record.ts';

export function removeMailbox({ ctx, actor, address }: { ctx: ServiceContext; actor: Actor; address: string }): void {
  const now = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      const m = findMailbox(ctx.db, address);
      if (!m) throw new NotFound(`There is no mailbox ${address}.`);
      deleteMailbox(ctx.db, m.id);
      recordChange(ctx, actor, { entity: 'mailbox', key: m.address, op: 'delete' }, 'mail.mailbox.remove', now);
    })
    .immediate();
}
