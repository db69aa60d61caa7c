// What a staff release and a staff deletion of a quarantined copy share: the copy must be in the index and still
// held, with no request already waiting for its node; the request is kept as a pending action for the node to fetch
// (GET /api/v1/mx/quarantine/actions) and audited in the same transaction.
import type { QuarantineActionKind } from '#data/contracts/quarantine.ts';
import { releasable } from '#data/contracts/quarantine.ts';
import { Conflict, NotFound } from '../../domain/errors.ts';
import { writeAudit } from '../../store/audit.ts';
import { findCopy, insertAction, type QuarantineActionRow } from '../../store/quarantine.ts';
import type { Actor, ServiceContext } from '../context.ts';

export interface QuarantineRequest {
  ctx: ServiceContext;
  actor: Actor;
  /** The MX node's name. */
  node: string;
  deliveryId: number;
}

export interface RequestedAction extends QuarantineActionRow {
  node: string;
}

export function requestAction({ ctx, actor, node, deliveryId }: QuarantineRequest, action: QuarantineActionKind): RequestedAction {
  const now = ctx.clock();
  return ctx.db
    .transaction((): RequestedAction => {
      const copy = findCopy(ctx.db, node, deliveryId);
      if (!copy) throw new NotFound(`There is no quarantined copy ${deliveryId} on the MX node ${node}.`);
      if (action === 'release' && !releasable(copy.reason))
        throw new Conflict('A message with a virus is never delivered: it cannot be released, only deleted.', [
          { field: 'action', message: 'a virus cannot be released' },
        ]);
      if (copy.status !== 'held')
        throw new Conflict(`The copy ${deliveryId} on ${node} is no longer in quarantine: it was ${copy.status}.`, [
          { field: 'status', message: copy.status },
        ]);
      if (copy.pending)
        throw new Conflict(
          `A ${copy.pending.action} of the copy ${deliveryId} on ${node} is already waiting for the node (action ${copy.pending.id}); the node applies it on its next sync.`,
          [{ field: 'action', message: `${copy.pending.action} pending` }],
        );
      const row = insertAction(ctx.db, {
        nodeId: copy.nodeId,
        deliveryId,
        messageId: copy.messageId,
        action,
        requestedBy: actor.userId,
        requestedAt: now.getTime(),
      });
      writeAudit(ctx.db, {
        at: now.toISOString(),
        userId: actor.userId,
        actor: actor.name,
        action: `mail.quarantine.${action}`,
        target: `${node}/${deliveryId}`,
        detail: JSON.stringify({ actionId: row.id, reason: copy.reason }),
      });
      return { ...row, node };
    })
    .immediate();
}
