// A visitor asks to follow everything, a section or a task (form or API). Double opt-in: the request stores the address
// and a pending follow and queues the confirmation mail, in one transaction; nothing else is ever sent for a pending
// follow. The caller answers every accepted request the same way, so nobody learns whether an address is subscribed.
import { createHash } from 'node:crypto';
import { isHostableAddress } from '#data/address.ts';
import type { SubscribeRequest } from '#data/contracts/subscriptions.ts';
import { Invalid } from '../../domain/errors.ts';
import { newLinkSecret, subscriberToken, tokenHash } from '../../domain/subscription-links.ts';
import type { ServiceContext } from '../context.ts';
import {
  findSubscription,
  insertPendingSubscription,
  insertSubscriber,
  linkSecret,
  queueConfirmation,
  reopenFollow,
  restartPending,
  sectionIdBySlug,
  subscriberByEmail,
  takeSubscriberId,
  taskExists,
  type Target,
} from '../../store/subscriptions.ts';
import { insertSubscribeAttempt, pruneSubscribeAttempts, subscribeAttemptsSince } from '../../store/subscription-confirmations.ts';

export interface SubscribeLimits {
  windowMs: number;
  /** Requests one client IP may make per window (the rest: 429). */
  perIp: number;
  /** Requests for one address per window that queue a mail (the rest get the same answer and send nothing). */
  perAddress: number;
}
export const SUBSCRIBE_LIMITS: SubscribeLimits = { windowMs: 60 * 60_000, perIp: 10, perAddress: 3 };

export type SubscribeOutcome = { kind: 'requested' } | { kind: 'limited'; retryAfterSeconds: number };

/** The address as the rate limit counts it: hashed, since nobody has confirmed it yet. */
const addressKey = (email: string) => createHash('sha256').update(email.toLowerCase()).digest('hex');

export function requestSubscription({
  ctx,
  input,
  ip,
  honeypot,
  limits = SUBSCRIBE_LIMITS,
}: {
  ctx: ServiceContext;
  input: SubscribeRequest;
  ip: string;
  /** The honeypot field's value: anything but empty is a robot, answered as usual with nothing stored or sent. */
  honeypot: string;
  limits?: SubscribeLimits;
}): SubscribeOutcome {
  if (honeypot !== '') return { kind: 'requested' };
  const email = input.email;
  if (!isHostableAddress(email))
    throw new Invalid('That is not an email address we can send to.', [{ field: 'email', message: 'not a valid address' }]);
  const now = ctx.clock();
  const nowMs = now.getTime();
  const at = now.toISOString();
  return ctx.db
    .transaction((): SubscribeOutcome => {
      const target = resolveTarget(ctx, input);
      const since = nowMs - limits.windowMs;
      pruneSubscribeAttempts(ctx.db, since);
      const byIp = subscribeAttemptsSince(ctx.db, 'ip', ip, since);
      if (byIp.n >= limits.perIp && byIp.oldest !== null)
        return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil((byIp.oldest + limits.windowMs - nowMs) / 1000)) };
      insertSubscribeAttempt(ctx.db, 'ip', ip, nowMs);
      const key = addressKey(email);
      const byAddress = subscribeAttemptsSince(ctx.db, 'address', key, since);
      insertSubscribeAttempt(ctx.db, 'address', key, nowMs);
      if (byAddress.n >= limits.perAddress) return { kind: 'requested' };
      let subscriber = subscriberByEmail(ctx.db, email);
      if (!subscriber) {
        const id = takeSubscriberId(ctx.db);
        insertSubscriber(ctx.db, { id, email, tokenHash: tokenHash(subscriberToken(linkSecret(ctx.db), id)), at });
        subscriber = { id, email, created_at: at, disabled_at: null };
      }
      const existing = findSubscription(ctx.db, subscriber.id, target);
      // Already followed and confirmed: nothing to send (the answer stays the same), unless the relay's refusals
      // disabled the address: then asking again means a new double opt-in, whose confirmation enables it again.
      if (existing?.confirmed && subscriber.disabled_at === null) return { kind: 'requested' };
      let id: number;
      if (existing?.confirmed) {
        id = existing.id;
        reopenFollow(ctx.db, id, at, tokenHash(newLinkSecret()));
      } else if (existing) {
        id = existing.id;
        restartPending(ctx.db, id, at);
      } else {
        // A placeholder nobody knows: the confirmation job draws the link's real secret when it sends.
        id = insertPendingSubscription(ctx.db, subscriber.id, target, at, tokenHash(newLinkSecret()));
      }
      queueConfirmation(ctx.db, id, nowMs);
      return { kind: 'requested' };
    })
    .immediate();
}

function resolveTarget(ctx: ServiceContext, input: SubscribeRequest): Target {
  if (input.scope === 'section') {
    const sectionId = sectionIdBySlug(ctx.db, input.section ?? '');
    if (sectionId === undefined) throw new Invalid('There is no such section.', [{ field: 'section', message: 'unknown section' }]);
    return { scope: 'section', sectionId, taskId: null };
  }
  if (input.scope === 'task') {
    if (input.task === undefined || !taskExists(ctx.db, input.task))
      throw new Invalid('There is no such task.', [{ field: 'task', message: 'unknown task' }]);
    return { scope: 'task', sectionId: null, taskId: input.task };
  }
  return { scope: 'all', sectionId: null, taskId: null };
}
