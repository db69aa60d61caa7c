// What a subscriber does from the link in their messages (the token is the authorization; only its hash is stored):
// see what they follow, unfollow items, unsubscribe from everything, delete themselves.
import type { FollowView } from '#data/contracts/subscriptions.ts';
import { tokenHash } from '../../domain/subscription-links.ts';
import { deleteFollow, deleteSubscriber, followsOf, subscriberByTokenHash } from '../../store/subscriptions.ts';
import type { ServiceContext } from '../context.ts';
import { followView } from './follows.ts';

export interface ManageView {
  subscriberId: number;
  email: string;
  follows: FollowView[];
}

/** The subscriber a manage or unsubscribe token belongs to, with their follows; null for a token that matches nobody. */
export function manageView(ctx: Pick<ServiceContext, 'db'>, token: string): ManageView | null {
  const s = token ? subscriberByTokenHash(ctx.db, tokenHash(token)) : undefined;
  if (!s) return null;
  return { subscriberId: s.id, email: s.email, follows: followsOf(ctx.db, s.id).map(followView) };
}

/** Stops one follow (the row is deleted); false when the token or the follow is not theirs. */
export function unfollow({ ctx, token, followId }: { ctx: ServiceContext; token: string; followId: number }): boolean {
  return ctx.db
    .transaction(() => {
      const s = token ? subscriberByTokenHash(ctx.db, tokenHash(token)) : undefined;
      return s ? deleteFollow(ctx.db, s.id, followId) : false;
    })
    .immediate();
}

/**
 * Deletes the subscriber: the address, every follow and every queued message go (rows deleted, nothing kept). Both
 * "delete me" and the one-click unsubscribe do this. False when the token matches nobody (already deleted).
 */
export function deleteSubscriberByToken({ ctx, token }: { ctx: ServiceContext; token: string }): boolean {
  return ctx.db
    .transaction(() => {
      const s = token ? subscriberByTokenHash(ctx.db, tokenHash(token)) : undefined;
      return s ? deleteSubscriber(ctx.db, s.id) : false;
    })
    .immediate();
}
