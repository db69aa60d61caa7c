// The wire contract between an MX node and the backend for telemetry: POST /api/v1/telemetry (a batch of the
// node's event log by cursor) and POST /api/v1/telemetry/heartbeat (gauges read on the node). Both sides
// validate with these schemas; the event types and reasons are closed unions, so neither side invents a string.
import { z } from 'zod';
import { PurgeReason, QuarantineEntry, QuarantineRefusal } from './quarantine.ts';
import { RouteKind } from './route.ts';
import { ShadowVerdict } from './shadow.ts';

/** Every event type the node's log holds (data/migrations/node/001_queue.sql, events.type). */
export const TELEMETRY_EVENT_TYPES = [
  'accepted',
  'rejected',
  'delivered',
  'deferred',
  'bounced',
  'quarantined',
  'discarded',
  'dsn',
  'released',
  'purged',
  'quarantine-refused',
  'shadow-verdict',
] as const;
export const TelemetryEventType = z.enum(TELEMETRY_EVENT_TYPES);
export type TelemetryEventType = z.infer<typeof TelemetryEventType>;

// How a delivery left the node (data/contracts/route.ts, which the quarantine contract names too).
export { ROUTE_KINDS, RouteKind } from './route.ts';

/**
 * Why the ingress refused (a 'rejected' event). The first group is what the ingress refuses today; the second is
 * reserved for content scanning and policies (issue 12), so the backend's rollups and charts already know them.
 */
export const REJECT_REASONS = [
  // recipients and envelope
  'unknown-user',
  'not-hosted',
  'bad-address',
  'too-many-recipients',
  'too-many-unknown-recipients',
  'unknown-parameter',
  'non-ascii-address',
  'invalid-utf8-address',
  // bounces to SRS addresses that do not check out
  'not-srs',
  'malformed',
  'bad-hash',
  'expired',
  // size, framing, timing, connections
  'too-big-declared',
  'too-big',
  'bare-newline',
  'line-too-long',
  'data-timeout',
  'early-talker',
  'per-ip-connection-cap',
  // the queue could not store the message (451)
  'storage',
  // flow control: the queue is too far behind (issue 11)
  'queue-full',
  // content scanning and policies (issue 12); 'policy-class' is the 452 for a recipient whose filtering policy differs
  // from the transaction's first one (it comes back in a transaction of its own)
  'policy-class',
  'spam',
  'virus',
  'dmarc',
  'scanner-unavailable',
  // migration (issue 13): the legacy system could not say whether a recipient of a legacy domain exists (451 at RCPT)
  'legacy-unavailable',
] as const;
export const RejectReason = z.enum(REJECT_REASONS);
export type RejectReason = z.infer<typeof RejectReason>;

/** Why a delivery bounced ('bounced' events). */
export const BOUNCE_REASONS = ['permanent', 'expired'] as const;
export const BounceReason = z.enum(BOUNCE_REASONS);
export type BounceReason = z.infer<typeof BounceReason>;

const seq = z.number().int().positive();
/** Milliseconds since the epoch. */
const at = z.number().int().nonnegative();

/**
 * How many deliveries (queued rows, one per recipient and route) an accepted message or a DSN created: 'accepted' counts
 * messages, outcomes count deliveries, and the accounting line (data/contracts/telemetry-accounting.ts) needs both.
 * Optional on the wire only for nodes older than the field: the backend counts such a message as uncounted, and the
 * accounting line then shows no unaccounted figure rather than a guess. This node always sends it.
 */
const deliveries = z.number().int().nonnegative().optional();

/**
 * One row of the node's event log as shipped; `reason` is constrained by `type`. Every outcome ('delivered',
 * 'bounced', 'quarantined', 'discarded') is one delivery's.
 */
export const TelemetryEvent = z.discriminatedUnion('type', [
  z.object({ seq, at, type: z.literal('accepted'), messageId: z.string().min(1), deliveries }),
  z.object({ seq, at, type: z.literal('rejected'), reason: RejectReason }),
  z.object({
    seq,
    at,
    type: z.literal('delivered'),
    messageId: z.string().min(1),
    route: RouteKind,
    /** Accept (our 250) to delivery, in ms. */
    latencyMs: z.number().int().nonnegative(),
  }),
  z.object({ seq, at, type: z.literal('deferred'), messageId: z.string().min(1), route: RouteKind }),
  z.object({ seq, at, type: z.literal('bounced'), messageId: z.string().min(1), route: RouteKind, reason: BounceReason }),
  z.object({
    seq,
    at,
    type: z.literal('quarantined'),
    messageId: z.string().min(1),
    reason: RejectReason.optional(),
    /** What the backend's quarantine index shows (data/contracts/quarantine.ts); absent from nodes older than it. */
    entry: QuarantineEntry.optional(),
  }),
  z.object({ seq, at, type: z.literal('discarded'), messageId: z.string().min(1), reason: RejectReason.optional() }),
  /** A delivery status notification the node generated (it is queued as a message of its own). */
  z.object({ seq, at, type: z.literal('dsn'), messageId: z.string().min(1), deliveries }),
  /**
   * A quarantined copy (reason spam) released by staff: it is queued again, to be delivered as if clean. It came back
   * into the queue, so the accounting line counts it in, beside accepted and dsn (one delivery each).
   */
  z.object({
    seq,
    at,
    type: z.literal('released'),
    messageId: z.string().min(1),
    deliveryId: z.number().int().positive(),
    /** The staff action it applied (data/contracts/quarantine.ts). */
    actionId: z.number().int().positive(),
  }),
  /**
   * A quarantined copy's bytes were deleted (by staff, or past the retention). Its outcome stays 'quarantined', counted
   * when it was quarantined, so this is no flow in the accounting line: it only updates the backend's index.
   */
  z.object({
    seq,
    at,
    type: z.literal('purged'),
    messageId: z.string().min(1),
    deliveryId: z.number().int().positive(),
    reason: PurgeReason,
    /** The staff action it applied; absent for the retention job. */
    actionId: z.number().int().positive().optional(),
  }),
  /**
   * A staff action the node applied no change for (data/contracts/quarantine.ts QUARANTINE_REFUSALS): the backend
   * resolves the action as 'refused'. No flow in the accounting line and no minute rollup: nothing happened to mail.
   */
  z.object({
    seq,
    at,
    type: z.literal('quarantine-refused'),
    /** The message the action named, when the node knows it. */
    messageId: z.string().min(1).optional(),
    deliveryId: z.number().int().positive(),
    actionId: z.number().int().positive(),
    why: QuarantineRefusal,
  }),
  /**
   * A shadow domain's dry run (data/contracts/shadow.ts): what the new system would have done with one recipient of a
   * message the node relayed to the legacy system. No flow in the accounting line and no minute rollup: the message's
   * own events count it; only the backend's shadow report reads these.
   */
  z.object({ seq, at, type: z.literal('shadow-verdict'), messageId: z.string().min(1), verdict: ShadowVerdict }),
]);
export type TelemetryEvent = z.infer<typeof TelemetryEvent>;

/** Most events in one batch; a node sends smaller ones, the backend refuses larger ones (413). */
export const TELEMETRY_MAX_BATCH = 1000;

/**
 * POST /api/v1/telemetry. `after` is the node's acknowledged cursor and `events` are ALL its events with a seq
 * above it, in seq order, up to the batch size (SELECT ... WHERE seq > after ORDER BY seq LIMIT n: seqs may
 * have holes, as AUTOINCREMENT skips numbers after a rollback, but nothing in between is left out). The backend
 * holds the highest seq it applied for the node, its cursor C:
 * - after > C: applying the batch would skip the events between C and after. Refused, 409, with C as the
 *   cursor to resend from; nothing changes.
 * - after <= C: events with seq <= C are already held (a retry, a replay, an overlap) and are not counted again;
 *   the rest are applied, in one transaction, and C becomes the batch's last seq.
 */
export const TelemetryBatch = z
  .object({
    after: z.number().int().nonnegative(),
    events: z.array(TelemetryEvent).min(1).max(TELEMETRY_MAX_BATCH),
  })
  .superRefine((b, ctx) => {
    let prev = b.after;
    for (const [i, e] of b.events.entries()) {
      if (e.seq <= prev)
        ctx.addIssue({
          code: 'custom',
          path: ['events', i, 'seq'],
          message: `seq ${e.seq} is not after ${prev}: events go in increasing seq order after "after"`,
        });
      prev = e.seq;
    }
  });
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;

/** The answer to a batch (200), and the body of a 409 for a batch that would skip events. */
export const TelemetryAck = z.object({
  /** The highest seq the backend holds for this node: the node's new cursor. */
  cursor: z.number().int().nonnegative(),
  /** Events of this batch applied now (the rest were already held: a replay or an overlap). */
  applied: z.number().int().nonnegative(),
});
export type TelemetryAck = z.infer<typeof TelemetryAck>;

/** POST /api/v1/telemetry/heartbeat: gauges read on the node at `at`, sent every 15 s even with no mail. */
export const TelemetryHeartbeat = z.object({
  at,
  /** Deliveries waiting in the queue (state queued, due or not). */
  queueDepth: z.number().int().nonnegative(),
  /** Age of the oldest queued delivery in ms; null with an empty queue. */
  oldestQueuedMs: z.number().int().nonnegative().nullable(),
  /** Queued deliveries that have failed at least once (waiting for a retry). */
  inRetry: z.number().int().nonnegative(),
  /** The replica's mail configuration version, and when it last synced (null: never). */
  configVersion: z.number().int().nonnegative(),
  lastSyncAt: at.nullable(),
  /** The node's highest event seq: what the backend does not hold yet is the shipping lag. */
  lastSeq: z.number().int().nonnegative(),
  /**
   * Whether the node scans message content (rspamd, clamd, authentication): 'off' only when TIDINGS_SCAN=off, and then
   * every message it accepts is delivered unscanned. Absent from nodes older than the field.
   */
  scanning: z.enum(['on', 'off']).optional(),
});
export type TelemetryHeartbeat = z.infer<typeof TelemetryHeartbeat>;

/**
 * Accept-to-delivery latency histogram: fixed log-scale upper bounds in ms (four per decade, 10 ms to about
 * 3.7 days, then +Inf), the same on every node and window, so buckets add up across nodes and minutes.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = (() => {
  const out: number[] = [];
  for (let i = 4; i <= 34; i++) out.push(Math.round(10 ** (i / 4)));
  return out;
})();

/** The index of the bucket a latency falls in (LATENCY_BUCKETS_MS.length for the +Inf bucket). */
export function latencyBucket(ms: number): number {
  for (const [i, bound] of LATENCY_BUCKETS_MS.entries()) if (ms <= bound) return i;
  return LATENCY_BUCKETS_MS.length;
}

/**
 * The q-quantile (0 < q <= 1) of a histogram (counts per bucket, +Inf last) as the upper bound of the bucket it
 * falls in; null for an empty histogram, Infinity when it falls in the +Inf bucket. An upper bound, never an
 * average: "p95 ≤ 1.8 s".
 */
export function latencyQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [i, n] of counts.entries()) {
    seen += n;
    if (seen >= rank) return i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i] : Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}
