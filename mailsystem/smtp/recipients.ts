// RCPT decision: the Directory's resolution becomes either routes to record or a public reply.
import { foldDomain, splitAddress } from '#data/address.ts';
import { DEFAULT_POLICY, type MailPolicy } from '#data/contracts/mail-policy.ts';
import type { Directory, Route, ShadowPlan } from '#mailsystem/config/directory.ts';
import { REPLIES, type Reply } from './replies.ts';

export type RecipientDecision =
  /**
   * verify: the legacy system at host:port must confirm the address before it is accepted (Resolution.verify).
   * relay: a legacy or shadow recipient, relayed to the old MX as it is (no checks act on it); shadow: its dry run.
   */
  | {
      accept: true;
      routes: Route[];
      policy: MailPolicy;
      verify?: { host: string; port: number };
      relay?: boolean;
      shadow?: ShadowPlan;
    }
  | { accept: false; reply: Reply; reason: 'unknown-user' | 'not-hosted' | 'bad-address' };

/** `mxHostname` is this node's own name, whose postmaster is also the bare `RCPT TO:<postmaster>`. */
export function decideRecipient(directory: Directory, address: string, mxHostname: string, at?: number): RecipientDecision {
  const parts = splitAddress(foldDomain(address));
  if (!parts) return { accept: false, reply: REPLIES.badRecipient, reason: 'bad-address' };
  const resolution = directory.resolve(address, at);
  if (resolution.status === 'ok' && resolution.routes.length > 0) {
    // The replica resolves each address's effective policy (installation → domain → address).
    const { routes, verify, mode, shadow } = resolution;
    return {
      accept: true,
      routes,
      policy: resolution.policy.policy,
      ...(verify && { verify }),
      ...(mode && mode !== 'active' && { relay: true }),
      ...(shadow && { shadow }),
    };
  }
  // RFC 5321 §4.5.1: postmaster of every hosted domain, and of the MX's own name, must be
  // reachable even when nobody configured it; such mail lands in the built-in store under that domain.
  const ownName = parts.domain === mxHostname.toLowerCase();
  if (parts.local.toLowerCase() === 'postmaster' && (ownName || directory.isHostedDomain(parts.domain))) {
    return { accept: true, routes: [{ kind: 'maildir', mailbox: `postmaster@${parts.domain}` }], policy: DEFAULT_POLICY };
  }
  if (resolution.status === 'not-hosted') return { accept: false, reply: REPLIES.relayDenied, reason: 'not-hosted' };
  return { accept: false, reply: REPLIES.unknownUser, reason: 'unknown-user' };
}

/**
 * A stable key so two recipients that resolve to the same target get one delivery. The legacy
 * relay takes each envelope recipient as-is, so there the recipient is part of the target.
 */
export function routeKey(recipient: string, route: Route): string {
  switch (route.kind) {
    case 'maildir':
      return `maildir:${route.mailbox.toLowerCase()}`;
    case 'lmtp':
      return `lmtp:${route.host}:${route.port}:${route.mailbox.toLowerCase()}`;
    case 'forward':
      return `forward:${foldDomain(route.to)}`; // external local parts may be case-sensitive
    case 'legacy':
      return `legacy:${route.host}:${route.port}:${recipient.toLowerCase()}`;
  }
}
