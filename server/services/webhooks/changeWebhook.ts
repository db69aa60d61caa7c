// Removing a webhook endpoint (its deliveries and log go with it), and disabling or re-enabling one by hand.
import type { WebhookView } from '#data/contracts/webhooks.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { deleteWebhook, findWebhook, setWebhookDisabled } from '../../store/webhooks.ts';
import { writeAudit } from '../../store/audit.ts';

function existing(ctx: ServiceContext, id: number): WebhookView {
  const w = findWebhook(ctx.db, id);
  if (!w) throw new NotFound(`There is no webhook ${id}.`);
  return w;
}

export function removeWebhook({ ctx, actor, id }: { ctx: ServiceContext; actor: Actor; id: number }): WebhookView {
  const now = ctx.clock().toISOString();
  return ctx.db.transaction(() => {
    const w = existing(ctx, id);
    deleteWebhook(ctx.db, id);
    writeAudit(ctx.db, {
      at: now,
      userId: actor.userId,
      actor: actor.name,
      action: 'webhook.remove',
      target: String(id),
      detail: JSON.stringify({ url: w.url }),
    });
    return w;
  })();
}

/** Enabling starts the endpoint over (its failure count back to 0); deliveries queued meanwhile go out again. */
export function setWebhookEnabled({
  ctx,
  actor,
  id,
  enabled,
}: {
  ctx: ServiceContext;
  actor: Actor;
  id: number;
  enabled: boolean;
}): WebhookView {
  const now = ctx.clock().toISOString();
  return ctx.db.transaction(() => {
    const w = existing(ctx, id);
    if (w.enabled === enabled) return w;
    setWebhookDisabled(ctx.db, id, enabled ? null : { at: now, reason: `disabled by ${actor.name}` });
    writeAudit(ctx.db, {
      at: now,
      userId: actor.userId,
      actor: actor.name,
      action: enabled ? 'webhook.enable' : 'webhook.disable',
      target: String(id),
      detail: JSON.stringify({ url: w.url }),
    });
    return existing(ctx, id);
  })();
}
