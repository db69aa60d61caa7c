// Registers a webhook endpoint for every event or one section's, with a secret made here and returned this once.
import { isIP } from 'node:net';
import type { AddWebhookInput, WebhookView } from '#data/contracts/webhooks.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid } from '../../domain/errors.ts';
import { forbiddenAddressReason } from '../../domain/webhook-address.ts';
import { newWebhookSecret } from '../../domain/standard-webhooks.ts';
import { sectionBySlug } from '../../store/overrides.ts';
import { findWebhook, insertWebhook } from '../../store/webhooks.ts';
import { writeAudit } from '../../store/audit.ts';

/**
 * Refuses a URL whose host is a non-public IP address or "localhost" unless private addresses are allowed. Names are
 * not resolved here: the sender resolves and checks every address before each request (server/jobs/webhook-request.ts).
 */
function refusePrivateUrl(url: string, allowPrivate: boolean): void {
  if (allowPrivate) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const why = isIP(host) ? forbiddenAddressReason(host) : host === 'localhost' || host.endsWith('.localhost') ? 'loopback' : null;
  if (why)
    throw new Invalid(`Webhooks may not be sent to ${host} (${why}); an operator can allow it with TIDINGS_WEBHOOK_ALLOW_PRIVATE.`, [
      { field: 'url', message: `a ${why} address` },
    ]);
}

export function addWebhook({
  ctx,
  actor,
  input,
  allowPrivate,
}: {
  ctx: ServiceContext;
  actor: Actor;
  input: AddWebhookInput;
  allowPrivate: boolean;
}): { webhook: WebhookView; secret: string } {
  refusePrivateUrl(input.url, allowPrivate);
  const now = ctx.clock().toISOString();
  const secret = newWebhookSecret();
  return ctx.db.transaction(() => {
    let sectionId: number | null = null;
    if (input.section) {
      const s = sectionBySlug(ctx.db, input.section);
      if (!s) throw new Invalid(`There is no section "${input.section}".`, [{ field: 'section', message: 'no such section' }]);
      sectionId = s.id;
    }
    const description = input.description ?? '';
    const id = insertWebhook(ctx.db, { url: input.url, sectionId, description, secret, at: now, by: actor.name });
    // The secret never goes into the audit log.
    const detail = JSON.stringify({ url: input.url, section: input.section ?? null, description });
    writeAudit(ctx.db, { at: now, userId: actor.userId, actor: actor.name, action: 'webhook.add', target: String(id), detail });
    return { webhook: findWebhook(ctx.db, id) as WebhookView, secret };
  })();
}
