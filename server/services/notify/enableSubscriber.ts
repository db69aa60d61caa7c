// Staff enable a subscriber the sender disabled after permanent failures (a mailbox that is back): later events reach
// them again; what was not sent meanwhile is not sent. Audited in the same transaction.
import { Conflict, NotFound } from '../../domain/errors.ts';
import { writeAudit } from '../../store/audit.ts';
import { enableSubscriberRow, subscriberEmail } from '../../store/notify-outbox.ts';
import type { Actor, ServiceContext } from '../context.ts';

export function enableSubscriber({ ctx, actor, subscriberId }: { ctx: ServiceContext; actor: Actor; subscriberId: number }): {
  id: number;
  email: string;
} {
  const at = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const s = subscriberEmail(ctx.db, subscriberId);
      if (!s) throw new NotFound(`Subscriber ${subscriberId} does not exist.`);
      if (!s.disabled) throw new Conflict(`Subscriber ${subscriberId} is not disabled.`);
      enableSubscriberRow(ctx.db, subscriberId);
      writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'notify.subscriber.enable', target: String(subscriberId) });
      return { id: subscriberId, email: s.email };
    })
    .immediate();
}
