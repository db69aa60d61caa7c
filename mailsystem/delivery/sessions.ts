// Which claimed deliveries share one session: copies of one message to one LMTP server or legacy host, with equal bytes.
import type { ClaimedDelivery, QueueStore } from '#mailsystem/queue/store.ts';
import type { Transports } from './transport.ts';

/** Most copies in one session (one RCPT TO each). */
export const SESSION_RECIPIENTS = 50;

export interface SessionClaim {
  owner: string;
  now: number;
  leaseMs: number;
  /** Most copies per session. */
  max: number;
}

/** The address a copy gets in its session's RCPT TO: the LMTP mailbox, or the recipient as accepted (legacy relay). */
function rcptOf(d: ClaimedDelivery): string {
  return (d.route.kind === 'lmtp' ? d.route.mailbox : d.recipient).toLowerCase();
}

/**
 * What copies of one session have in common, or null for a copy that goes alone (a route without host and port, or a
 * transport that takes one copy per session). The added headers are part of it: a session sends one body to all.
 */
function sessionKey(d: ClaimedDelivery, transports: Transports): string | null {
  if ((d.route.kind !== 'lmtp' && d.route.kind !== 'legacy') || !transports[d.route.kind]?.deliverMany) return null;
  return JSON.stringify([d.messageId, d.route.kind, d.route.host, d.route.port, d.added]);
}

interface Open {
  copies: ClaimedDelivery[];
  rcpts: Set<string>;
}

/**
 * Groups freshly claimed deliveries into sessions, then claims for each session the due copies still in the queue
 * that can join it (store.ts claimSessionMates), up to `max` copies per session. Runs inside the claim's commit. An
 * address already in a session (it would get two RCPT TO, and LMTP's replies are told apart by address) goes alone.
 */
export function claimSessions(
  store: QueueStore,
  claimed: ClaimedDelivery[],
  transports: Transports,
  claim: SessionClaim,
): ClaimedDelivery[][] {
  const sessions: ClaimedDelivery[][] = [];
  const open = new Map<string, Open>();
  const join = (s: Open | undefined, d: ClaimedDelivery): boolean => {
    if (!s || s.copies.length >= claim.max || s.rcpts.has(rcptOf(d))) return false;
    s.copies.push(d);
    s.rcpts.add(rcptOf(d));
    return true;
  };
  for (const d of claimed) {
    const key = sessionKey(d, transports);
    if (key !== null && join(open.get(key), d)) continue;
    const copies = [d];
    sessions.push(copies);
    // A full session's later copies start the next one.
    if (key !== null && (open.get(key)?.copies.length ?? claim.max) >= claim.max) open.set(key, { copies, rcpts: new Set([rcptOf(d)]) });
  }
  for (const s of open.values()) {
    const mates = store.claimSessionMates(claim.owner, claim.now, claim.leaseMs, s.copies[0], claim.max - s.copies.length);
    for (const d of mates) if (!join(s, d)) sessions.push([d]);
  }
  return sessions;
}
