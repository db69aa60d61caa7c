// The links every subscriber message carries (issue 14): manage (see and change what they follow, delete themselves)
// and one-click unsubscribe, with the List-Unsubscribe headers of RFC 2369 / RFC 8058; and the double opt-in link.
// Pure: the caller gives the public base URL and the secret the tokens are derived from (subscription_link_secret,
// read with linkSecret() in server/store/subscriptions.ts).
//
// A subscriber's token is derived, never stored (subscribers.token_hash holds its SHA-256), so the sender can put it in
// every message; subscriber ids are never reused (backend migration 018), so an old link never reaches a later row.
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface SubscriptionLinks {
  manageUrl: string;
  /** GET shows a confirmation page; POST with List-Unsubscribe=One-Click unsubscribes at once (RFC 8058). */
  unsubscribeUrl: string;
}

/** The subscriber's link token: derived from the installation's secret, so it is never stored (only its hash is). */
export function subscriberToken(secret: string, subscriberId: number): string {
  return createHmac('sha256', secret).update(`subscriber:${subscriberId}`).digest('base64url');
}

/** What subscribers.token_hash (and subscriptions.confirm_hash) holds for a token. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A fresh random secret for a confirmation link (256 bits, URL-safe). */
export function newLinkSecret(): string {
  return randomBytes(32).toString('base64url');
}

const base = (publicUrl: string) => publicUrl.replace(/\/+$/, '');

export function subscriptionLinks(publicUrl: string, token: string): SubscriptionLinks {
  const t = encodeURIComponent(token);
  return {
    manageUrl: `${base(publicUrl)}/subscriptions/manage?token=${t}`,
    unsubscribeUrl: `${base(publicUrl)}/subscriptions/unsubscribe?token=${t}`,
  };
}

/** The double opt-in link of one pending follow. */
export function confirmUrl(publicUrl: string, secret: string): string {
  return `${base(publicUrl)}/subscriptions/confirm?token=${encodeURIComponent(secret)}`;
}

export function listUnsubscribeHeaders(links: SubscriptionLinks): Record<'List-Unsubscribe' | 'List-Unsubscribe-Post', string> {
  return { 'List-Unsubscribe': `<${links.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

/**
 * Everything a message to one subscriber needs: its manage and unsubscribe URLs and the two headers. The same for every
 * event (the links name the subscriber, not the message), so any message's link works for as long as the subscriber does.
 */
export function subscriberLinks(
  publicUrl: string,
  secret: string,
  subscriberId: number,
): SubscriptionLinks & { headers: Record<'List-Unsubscribe' | 'List-Unsubscribe-Post', string> } {
  const links = subscriptionLinks(publicUrl, subscriberToken(secret, subscriberId));
  return { ...links, headers: listUnsubscribeHeaders(links) };
}
