// The accounting line (issue 10): where every accepted delivery went over a range. Built by
// server/services/telemetry/accounting.ts; the charts' accounting line and the task impact report read it.
import { z } from 'zod';

const Instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const Count = z.number().int().nonnegative();

/**
 * Counted in deliveries (one per accepted recipient and route), per node between two readings of its queue:
 *   carriedIn + accepted + dsn + released = delivered + bounced + quarantined + discarded + queued + unaccounted
 * carriedIn and queued are the queue depths the node MEASURED (its heartbeat's queueDepth, read together with the
 * highest event seq it had written); the flows are the node's events up to exactly those seqs. Queue and events are
 * independent records, so a lost, duplicated or miscounted event makes unaccounted non-zero: it must be 0.
 *
 * The readings used are each node's last one at or before `from` and at or before `to` (heartbeats come every 15 s;
 * while nothing happens one per minute is kept, and after 14 days one per hour): measuredFrom/measuredTo say which.
 * Summed over nodes: a delivery lost on one node and one counted twice on another would cancel out. Before a
 * node's first reading the line starts from its first event (carriedIn 0) when the backend has all of its events;
 * measuredFrom is then null.
 *
 * queued and unaccounted are null when no queue reading exists at or before `to` for a node that reported (never a
 * made-up zero); unaccounted is also null while uncountedMessages > 0 (a node too old to say how many deliveries a
 * message created; its messages are in acceptedMessages but not in accepted).
 */
export const Accounting = z.object({
  from: Instant,
  to: Instant,
  /** The earliest queue reading the line starts from; null: from the node's first event. */
  measuredFrom: Instant.nullable(),
  /** The latest queue reading the line ends at; null when there is none (queued is null then). */
  measuredTo: Instant.nullable(),
  /** Messages our 250 accepted. */
  acceptedMessages: Count,
  /** Deliveries queued at measuredFrom. */
  carriedIn: Count,
  /** Deliveries those messages created. */
  accepted: Count,
  /** Deliveries of delivery status notifications the nodes generated (each DSN is queued as a message of its own). */
  dsn: Count,
  /**
   * Quarantined copies staff released (issue 12): each came back into the queue, to be delivered as if clean, so it is
   * an inflow. Its quarantine was an outflow when it happened (in `quarantined` of the range it fell in).
   */
  released: Count,
  delivered: Count,
  bounced: Count,
  quarantined: Count,
  discarded: Count,
  /** Deliveries queued at measuredTo, as the nodes measured them. */
  queued: Count.nullable(),
  /** Messages accepted by a node that did not say how many deliveries they created: unaccounted is null then. */
  uncountedMessages: Count,
  unaccounted: z.number().int().nullable(),
});
export type Accounting = z.infer<typeof Accounting>;
