// Deletes an alias or forwarding.
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { findAlias, deleteAlias } from '../../store/mail.ts';
import { recordChange } from './record.ts';

export function removeAlias({ ctx, actor, address }: { ctx: ServiceContext; actor: Actor; address: string }): void {
  const now = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      const a = findAlias(ctx.db, address);
      if (!a) throw new NotFound(`There is no alias ${address}.`);
      deleteAlias(ctx.db, a.id);
      recordChange(ctx, actor, { entity: 'alias', key: a.address, op: 'delete' }, 'mail.alias.remove', now);
    })
    .immediate();
}
