// The quarantine across the two halves (issue 12). The copies live on the MX node that quarantined them (node DB, with
// the message bytes); the backend keeps an index of them, fed by the node's event log, and staff act on that index.
// - Up: a 'quarantined' event carries a QuarantineEntry (data/contracts/telemetry.ts); 'released' and 'purged' events
//   say a copy left the quarantine, and why. The event log is ordered, acknowledged and idempotent by node + seq, so the
//   index never misses or double-counts a change, and keeps working through a backend outage.
// - Down: staff ask for a release or a deletion; the backend keeps the request as a pending action, and the node
//   fetches its pending actions (GET /api/v1/mx/quarantine/actions) on its config-sync timer and applies each one in a
//   transaction with its event. An action is idempotent by the copy's state on the node (a copy no longer in quarantine
//   is left alone), so fetching it again before its event reached the backend does nothing twice. The backend resolves
//   an action when the event for its copy arrives: 'done' for the event that names it, 'superseded' for any other. An
//   action that changes nothing on the node (the copy is not in its quarantine, or holds a virus and was asked to be
//   released) gets a 'quarantine-refused' event of its own, and the backend marks it 'refused' with the node's why:
//   no action stays pending for ever.
import { z } from 'zod';
import { RouteKind } from './route.ts';

export const QUARANTINE_REASONS = ['spam', 'virus'] as const;
export const QuarantineReason = z.enum(QUARANTINE_REASONS);
export type QuarantineReason = z.infer<typeof QuarantineReason>;

/** Longest subject kept in the index; the node cuts longer ones (and says so with a trailing '…'). */
export const QUARANTINE_SUBJECT_MAX = 200;
/** At most this many rspamd symbols (by name) are kept per entry, the highest scoring first. */
export const QUARANTINE_SYMBOLS_MAX = 50;

/**
 * What the index shows of one quarantined copy: the node cleans every string of control characters (the telemetry
 * ingest refuses a batch holding one) and cuts it to its limit. The event around it carries the message id, the reason
 * ('spam' | 'virus') and the time.
 */
export const QuarantineEntry = z.object({
  /** The node's delivery row: with the node it names the copy. */
  deliveryId: z.number().int().positive(),
  /** The address the copy was for (the accepted recipient, not the target it resolved to). */
  recipient: z.string().min(1).max(320),
  /**
   * Where a release would take the copy: its route kind, and its target, the mailbox address (maildir, lmtp), the
   * external address (forward: a copy held back by "no spam forwarding" goes to another provider when released), or
   * the old MX's host:port (legacy).
   */
  route: RouteKind,
  target: z.string().min(1).max(320),
  /** The envelope sender; '' for the null sender. */
  sender: z.string().max(320),
  /** The Subject header, RFC 2047 words decoded; null when the message has none. */
  subject: z
    .string()
    .max(QUARANTINE_SUBJECT_MAX + 1)
    .nullable(),
  /** Size of the stored message in bytes. */
  size: z.number().int().nonnegative(),
  /** rspamd's score; null when no spam verdict was had (a virus found first, or spam checks off for the copy). */
  score: z.number().finite().nullable(),
  symbols: z.array(z.string().min(1).max(128)).max(QUARANTINE_SYMBOLS_MAX),
  /** clamd's signature name; null when no virus was found. */
  virus: z.string().min(1).max(200).nullable(),
});
export type QuarantineEntry = z.infer<typeof QuarantineEntry>;

/** Why a copy left the quarantine without delivery: a staff deletion, or the retention job. */
export const PURGE_REASONS = ['staff', 'retention'] as const;
export const PurgeReason = z.enum(PURGE_REASONS);
export type PurgeReason = z.infer<typeof PurgeReason>;

/**
 * Why a node applied no change for a staff action ('quarantine-refused' event): the copy is not in its quarantine
 * (released or deleted already, never there, or the delivery id now names another message), or a release of a virus.
 */
export const QUARANTINE_REFUSALS = ['not-quarantined', 'virus'] as const;
export const QuarantineRefusal = z.enum(QUARANTINE_REFUSALS);
export type QuarantineRefusal = z.infer<typeof QuarantineRefusal>;

export const QUARANTINE_ACTIONS = ['release', 'delete'] as const;
export const QuarantineActionKind = z.enum(QUARANTINE_ACTIONS);
export type QuarantineActionKind = z.infer<typeof QuarantineActionKind>;

/**
 * A staff request the node has to apply to one of its quarantined copies. The copy is named by its delivery id AND its
 * message id: a node whose database was rebuilt (same name and token) hands out delivery ids again, so the id alone
 * could name a different message. The node applies the action only to a delivery of that message (else it refuses it,
 * 'not-quarantined').
 */
export const QuarantineAction = z.object({
  id: z.number().int().positive(),
  deliveryId: z.number().int().positive(),
  messageId: z.string().min(1),
  action: QuarantineActionKind,
});
export type QuarantineAction = z.infer<typeof QuarantineAction>;

/** Most actions in one answer; the node asks again on its next sync for the rest. */
export const QUARANTINE_ACTIONS_PAGE = 100;

/** GET /api/v1/mx/quarantine/actions (node token): the node's pending actions, oldest first. */
export const QuarantineActionsPayload = z.object({
  actions: z.array(QuarantineAction).max(QUARANTINE_ACTIONS_PAGE),
});
export type QuarantineActionsPayload = z.infer<typeof QuarantineActionsPayload>;

/** Where an indexed copy stands: still held, released (queued for delivery as if clean), or purged (bytes deleted). */
export const QUARANTINE_STATUSES = ['held', 'released', 'purged'] as const;
export const QuarantineStatus = z.enum(QUARANTINE_STATUSES);
export type QuarantineStatus = z.infer<typeof QuarantineStatus>;

/**
 * A message with a virus is never delivered, whatever the policy, so it cannot be released: staff may only delete it.
 * The backend refuses such a release (409) and the node, if one reached it, leaves the copy where it is.
 */
export function releasable(reason: QuarantineReason): boolean {
  return reason === 'spam';
}
