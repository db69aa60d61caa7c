// Creates a mailbox delivered to the built-in Maildir store or to an LMTP server such as Dovecot.
import type { MailboxInput } from '#data/contracts/mail-config.ts';
import { splitAddress } from '#data/address.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid, Conflict } from '../../domain/errors.ts';
import { findDomain, findMailbox, insertMailbox, mailboxRecord, type Mailbox } from '../../store/mail.ts';
import { recordChange } from './record.ts';

export function addMailbox({ ctx, actor, input }: { ctx: ServiceContext; actor: Actor; input: MailboxInput }): Mailbox {
  const now = ctx.clock().toISOString();
  const domainName = splitAddress(input.address)!.domain;
  return ctx.db
    .transaction(() => {
      const d = findDomain(ctx.db, domainName);
      if (!d)
        throw new Invalid(`The domain ${domainName} is not hosted; add it first.`, [{ field: 'address', message: 'domain is not hosted' }]);
      if (findMailbox(ctx.db, input.address)) throw new Conflict(`The mailbox ${input.address} already exists.`);
      const m = insertMailbox(ctx.db, d.id, input, now);
      recordChange(ctx, actor, { entity: 'mailbox', key: m.address, op: 'upsert', record: mailboxRecord(m) }, 'mail.mailbox.add', now);
      return m;
    })
    .immediate();
}
