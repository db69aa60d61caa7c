// Stops hosting a domain, removing its mailboxes, aliases and their policies too; each removal is its own change so nodes replay it exactly.
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { findDomain, listMailboxes, listAliases, deleteMailbox, deleteAlias, deleteDomain } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { dropAddressPolicyIfUnhosted, dropPolicy } from './policyLevel.ts';

export function removeDomain({ ctx, actor, name }: { ctx: ServiceContext; actor: Actor; name: string }): {
  mailboxes: number;
  aliases: number;
} {
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const d = findDomain(ctx.db, name);
      if (!d) throw new NotFound(`The domain ${name} is not hosted.`);
      const aliases = listAliases(ctx.db, d.name);
      for (const a of aliases) {
        deleteAlias(ctx.db, a.id);
        dropAddressPolicyIfUnhosted(ctx, actor, a.address, now);
        recordChange(ctx, actor, { entity: 'alias', key: a.address, op: 'delete' }, 'mail.alias.remove', now);
      }
      const mailboxes = listMailboxes(ctx.db, d.name);
      for (const m of mailboxes) {
        deleteMailbox(ctx.db, m.id);
        dropAddressPolicyIfUnhosted(ctx, actor, m.address, now);
        recordChange(ctx, actor, { entity: 'mailbox', key: m.address, op: 'delete' }, 'mail.mailbox.remove', now);
      }
      deleteDomain(ctx.db, d.id);
      dropPolicy(ctx, actor, d.name, now);
      recordChange(ctx, actor, { entity: 'domain', key: d.name, op: 'delete' }, 'mail.domain.remove', now);
      return { mailboxes: mailboxes.length, aliases: aliases.length };
    })
    .immediate();
}
