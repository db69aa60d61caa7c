// The double opt-in: following the link (and pressing its button: a GET never confirms, so link scanners cannot)
// confirms the follow; from then on it gets mail. The secret is the authorization: only its SHA-256 is stored.
import type { FollowView } from '#data/contracts/subscriptions.ts';
import { subscriberToken, tokenHash } from '../../domain/subscription-links.ts';
import { clearSubscriberFailures, confirmByHash, linkSecret, pendingFollowByHash } from '../../store/subscriptions.ts';
import { dropConfirmation } from '../../store/subscription-confirmations.ts';
import type { ServiceContext } from '../context.ts';
import { followView } from './follows.ts';

/** The pending follow a confirmation link is for, or null when the link is used, replaced, expired or made up. */
export function pendingFollow(ctx: Pick<ServiceContext, 'db'>, secret: string): FollowView | null {
  const row = secret ? pendingFollowByHash(ctx.db, tokenHash(secret)) : undefined;
  return row ? followView(row) : null;
}

/** Confirms the follow and gives the subscriber's manage token; null when the link confirms nothing (see pendingFollow). */
export function confirmSubscription({
  ctx,
  secret,
}: {
  ctx: ServiceContext;
  secret: string;
}): { follow: FollowView; manageToken: string } | null {
  if (!secret) return null;
  const hash = tokenHash(secret);
  return ctx.db
    .transaction(() => {
      const row = pendingFollowByHash(ctx.db, hash);
      if (!row || !confirmByHash(ctx.db, hash, ctx.clock().toISOString())) return null;
      // A subscriber who confirms again has asked for mail again: a relay's earlier refusals no longer count.
      clearSubscriberFailures(ctx.db, row.subscriber_id);
      dropConfirmation(ctx.db, row.id); // a resend still queued has nothing left to confirm
      return { follow: followView({ ...row, confirmed_at: 'now' }), manageToken: subscriberToken(linkSecret(ctx.db), row.subscriber_id) };
    })
    .immediate();
}
