// Maps rows of the node's event log (data/migrations/node/001_queue.sql) to the wire contract's TelemetryEvent.
import {
  PURGE_REASONS,
  type PurgeReason,
  QUARANTINE_REFUSALS,
  QuarantineEntry,
  type QuarantineRefusal,
} from '#data/contracts/quarantine.ts';
import {
  BOUNCE_REASONS,
  type BounceReason,
  REJECT_REASONS,
  ROUTE_KINDS,
  type RejectReason,
  TELEMETRY_EVENT_TYPES,
  type RouteKind,
  type TelemetryEvent,
} from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { ZodType } from 'zod';
import { ShadowVerdict } from '#data/contracts/shadow.ts';

export interface EventLogRow {
  seq: number;
  at: number;
  type: string;
  message_id: string | null;
  /** released, purged (and quarantined): the copy's delivery row. */
  delivery_id?: number | null;
  route_kind: string | null;
  latency_ms: number | null;
  reason: string | null;
  /** accepted and dsn: the deliveries the message created (from the row's detail JSON). */
  deliveries: number | null;
  /** released, purged and quarantine-refused: the staff action (detail JSON `actionId`; null for the retention). */
  action_id?: unknown;
  /**
   * quarantined: the QuarantineEntry as JSON text (detail JSON `entry`); null for rows older than it. shadow-verdict: the
   * ShadowVerdict as JSON text (detail JSON `verdict`).
   */
  entry?: string | null;
}

export type Mapped = { ok: true; event: TelemetryEvent } | { ok: false; error: string };

// The contract's closed unions as sets, for the hand-written check below.
const TYPES = new Set<unknown>(TELEMETRY_EVENT_TYPES);
const REJECT = new Set<unknown>(REJECT_REASONS);
const ROUTE = new Set<unknown>(ROUTE_KINDS);
const BOUNCE = new Set<unknown>(BOUNCE_REASONS);
const PURGE = new Set<unknown>(PURGE_REASONS);
const REFUSAL = new Set<unknown>(QUARANTINE_REFUSALS);

/** zod's `z.number().int()` (safe integers only), then `.positive()` / `.nonnegative()`. */
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isId = (v: unknown): v is number => isInt(v) && v > 0;
const bad = (field: string, value: unknown, want: string): { ok: false; error: string } => ({
  ok: false,
  error: `${field}: expected ${want}, got ${JSON.stringify(value) ?? String(value)}`,
});

/** JSON text the log keeps of an event (a quarantine entry, a shadow verdict), checked by its contract's zod schema. */
function checkedJson<T>(field: string, text: string | null | undefined, schema: ZodType<T>, what: string) {
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    return bad(field, text, `${what} as JSON`);
  }
  const checked = schema.safeParse(json);
  if (!checked.success)
    return bad(field, json, `${what} (${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message})`);
  return { ok: true as const, value: checked.data };
}

/**
 * The row as the contract's event, validated; a row that does not map is a bug in the writer (the store
 * only writes the contract's unions), never something to skip: the caller stops shipping and says so.
 *
 * Hand-written rather than `TelemetryEvent.safeParse` (the shipper maps up to 500 rows per tick while SMTP is
 * busy, and zod was most of that tick's CPU): it accepts and refuses exactly what the zod schema does for every
 * row the node's log can hold (test/unit/telemetry-events.test.ts feeds both the same rows), and returns the
 * same object zod would. A quarantined event's entry is the exception: zod checks it (QuarantineEntry), as it has a
 * dozen fields and only kept-back copies carry one.
 */
export function toTelemetryEvent(row: EventLogRow): Mapped {
  if (!isInt(row.seq) || row.seq <= 0) return bad('seq', row.seq, 'a positive integer');
  if (!isInt(row.at) || row.at < 0) return bad('at', row.at, 'a non-negative integer');
  const base = { seq: row.seq, at: row.at };
  const messageId = row.message_id ?? undefined;
  const route = row.route_kind ?? undefined;
  const reason = row.reason ?? undefined;
  const type = row.type;
  if (!TYPES.has(type)) return { ok: false, error: `unknown event type "${type}"` };
  if (type !== 'rejected' && !(typeof messageId === 'string' && messageId.length >= 1))
    if (!(type === 'quarantine-refused' && messageId === undefined))
      // A refused staff action may name a delivery the node has no row for: its message id is optional.
      return bad('messageId', messageId, 'a non-empty string');
  switch (type) {
    case 'accepted':
    case 'dsn': {
      // Written by QueueStore.insertAccepted into every accepted/dsn row's detail since the queue's first version.
      const deliveries = row.deliveries ?? undefined;
      if (deliveries !== undefined && !(isInt(deliveries) && deliveries >= 0))
        return bad('deliveries', deliveries, 'a non-negative integer');
      return { ok: true, event: { ...base, type, messageId: messageId as string, deliveries } };
    }
    case 'rejected':
      if (!REJECT.has(reason)) return bad('reason', reason, 'a reject reason');
      return { ok: true, event: { ...base, type, reason: reason as RejectReason } };
    case 'delivered': {
      if (!ROUTE.has(route)) return bad('route', route, 'a route kind');
      const latencyMs = row.latency_ms ?? undefined;
      if (!(isInt(latencyMs) && latencyMs >= 0)) return bad('latencyMs', latencyMs, 'a non-negative integer');
      return { ok: true, event: { ...base, type, messageId: messageId as string, route: route as RouteKind, latencyMs } };
    }
    case 'deferred':
      if (!ROUTE.has(route)) return bad('route', route, 'a route kind');
      return { ok: true, event: { ...base, type, messageId: messageId as string, route: route as RouteKind } };
    case 'bounced':
      if (!ROUTE.has(route)) return bad('route', route, 'a route kind');
      if (!BOUNCE.has(reason)) return bad('reason', reason, 'a bounce reason');
      return {
        ok: true,
        event: { ...base, type, messageId: messageId as string, route: route as RouteKind, reason: reason as BounceReason },
      };
    case 'quarantined': {
      if (reason !== undefined && !REJECT.has(reason)) return bad('reason', reason, 'a reject reason');
      if (row.entry === null || row.entry === undefined)
        return { ok: true, event: { ...base, type, messageId: messageId as string, reason: reason as RejectReason | undefined } };
      const entry = checkedJson('entry', row.entry, QuarantineEntry, 'a quarantine entry');
      if (!entry.ok) return entry;
      return {
        ok: true,
        event: { ...base, type, messageId: messageId as string, reason: reason as RejectReason | undefined, entry: entry.value },
      };
    }
    case 'released': {
      const deliveryId = row.delivery_id ?? undefined;
      if (!isId(deliveryId)) return bad('deliveryId', deliveryId, 'a positive integer');
      const actionId = row.action_id ?? undefined;
      if (!isId(actionId)) return bad('actionId', actionId, 'a positive integer');
      return { ok: true, event: { ...base, type, messageId: messageId as string, deliveryId, actionId } };
    }
    case 'purged': {
      const deliveryId = row.delivery_id ?? undefined;
      if (!isId(deliveryId)) return bad('deliveryId', deliveryId, 'a positive integer');
      if (!PURGE.has(reason)) return bad('reason', reason, 'a purge reason');
      const actionId = row.action_id ?? undefined;
      if (actionId !== undefined && !isId(actionId)) return bad('actionId', actionId, 'a positive integer');
      return { ok: true, event: { ...base, type, messageId: messageId as string, deliveryId, reason: reason as PurgeReason, actionId } };
    }
    case 'quarantine-refused': {
      const deliveryId = row.delivery_id ?? undefined;
      if (!isId(deliveryId)) return bad('deliveryId', deliveryId, 'a positive integer');
      const actionId = row.action_id ?? undefined;
      if (!isId(actionId)) return bad('actionId', actionId, 'a positive integer');
      if (!REFUSAL.has(reason)) return bad('why', reason, 'a refusal (not-quarantined, virus)');
      return {
        ok: true,
        event: { ...base, type, messageId: messageId as string | undefined, deliveryId, actionId, why: reason as QuarantineRefusal },
      };
    }
    case 'shadow-verdict': {
      const verdict = checkedJson('verdict', row.entry, ShadowVerdict, 'a shadow verdict');
      if (!verdict.ok) return verdict;
      return { ok: true, event: { ...base, type, messageId: messageId as string, verdict: verdict.value } };
    }
    case 'discarded':
      if (reason !== undefined && !REJECT.has(reason)) return bad('reason', reason, 'a reject reason');
      // (TypeScript does not spread the two-type union over the two union members, hence the cast.)
      return { ok: true, event: { ...base, type, messageId, reason } as TelemetryEvent };
    default:
      return { ok: false, error: `unknown event type "${type}"` };
  }
}

/** Prepared reads and writes of the shipped cursor and the event log. */
export function eventLog(db: DB) {
  const s = {
    batch: db.prepare(`SELECT seq, at, type, message_id, delivery_id, route_kind, latency_ms, reason,
                              CASE WHEN type IN ('accepted', 'dsn') AND json_valid(detail)
                                   THEN json_extract(detail, '$.deliveries') END AS deliveries,
                              CASE WHEN type IN ('released', 'purged', 'quarantine-refused') AND json_valid(detail)
                                   THEN json_extract(detail, '$.actionId') END AS action_id,
                              CASE WHEN type = 'quarantined' AND json_valid(detail) THEN detail -> '$.entry'
                                   WHEN type = 'shadow-verdict' AND json_valid(detail) THEN detail -> '$.verdict' END AS entry
                       FROM events
                       WHERE seq > ? ORDER BY seq LIMIT ?`),
    cursor: db.prepare('SELECT acked_seq FROM telemetry_cursor WHERE id = 1').pluck(),
    setCursor: db.prepare('UPDATE telemetry_cursor SET acked_seq = ?, updated_at = ? WHERE id = 1'),
    // The oldest shipped rows by the primary key: events are appended in seq order with `at` from the clock, so
    // the lowest seqs are the oldest. Reads at most `limit` rows from the front of the log (no index on `at`, which
    // every accepted/rejected/delivered event would have to write too) and deletes those older than the cutoff;
    // in the normal case they are a prefix, and a young row ends them. Only seq <= the acked cursor is ever read,
    // so an unshipped event is never pruned. If the clock stepped back, an event can carry an `at` older than a
    // lower-seq event's: it is deleted when it falls in the window beside that younger row, or else on a later
    // step, once the younger rows in front of it have aged past the cutoff and gone (at most the step's length late).
    prune: db.prepare(`DELETE FROM events WHERE seq IN
                         (SELECT seq FROM events WHERE seq <= @cursor ORDER BY seq LIMIT @limit)
                       AND at < @cutoff`),
  };
  return {
    cursor: (): number => s.cursor.get() as number,
    setCursor: (seq: number, now: number): void => void s.setCursor.run(seq, now),
    after: (seq: number, limit: number): EventLogRow[] => s.batch.all(seq, limit) as EventLogRow[],
    /** Deletes at most `limit` shipped events older than `cutoff`; returns how many. */
    prune: (cutoff: number, limit: number): number => s.prune.run({ cutoff, cursor: s.cursor.get() as number, limit }).changes,
  };
}
export type EventLog = ReturnType<typeof eventLog>;
