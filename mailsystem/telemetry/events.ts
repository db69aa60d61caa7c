// Maps rows of the node's event log (data/migrations/node/001_queue.sql) to the wire contract's TelemetryEvent.
import { TelemetryEvent } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';

export interface EventLogRow {
  seq: number;
  at: number;
  type: string;
  message_id: string | null;
  route_kind: string | null;
  latency_ms: number | null;
  reason: string | null;
  /** accepted and dsn: the deliveries the message created (from the row's detail JSON). */
  deliveries: number | null;
}

export type Mapped = { ok: true; event: TelemetryEvent } | { ok: false; error: string };

/**
 * The row as the contract's event, validated; a row that does not map is a bug in the writer (the store
 * only writes the contract's unions), never something to skip: the caller stops shipping and says so.
 */
export function toTelemetryEvent(row: EventLogRow): Mapped {
  const base = { seq: row.seq, at: row.at };
  const messageId = row.message_id ?? undefined;
  const route = row.route_kind ?? undefined;
  const reason = row.reason ?? undefined;
  let candidate: Record<string, unknown>;
  switch (row.type) {
    case 'accepted':
    case 'dsn':
      // Written by QueueStore.insertAccepted into every accepted/dsn row's detail since the queue's first version.
      candidate = { ...base, type: row.type, messageId, deliveries: row.deliveries ?? undefined };
      break;
    case 'rejected':
      candidate = { ...base, type: row.type, reason };
      break;
    case 'delivered':
      candidate = { ...base, type: row.type, messageId, route, latencyMs: row.latency_ms ?? undefined };
      break;
    case 'deferred':
      candidate = { ...base, type: row.type, messageId, route };
      break;
    case 'bounced':
      candidate = { ...base, type: row.type, messageId, route, reason };
      break;
    case 'quarantined':
    case 'discarded':
      candidate = { ...base, type: row.type, messageId, reason };
      break;
    default:
      return { ok: false, error: `unknown event type "${row.type}"` };
  }
  const parsed = TelemetryEvent.safeParse(candidate);
  if (!parsed.success) return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, event: parsed.data };
}

/** Prepared reads and writes of the shipped cursor and the event log. */
export function eventLog(db: DB) {
  const s = {
    batch: db.prepare(`SELECT seq, at, type, message_id, route_kind, latency_ms, reason,
                              CASE WHEN type IN ('accepted', 'dsn') AND json_valid(detail)
                                   THEN json_extract(detail, '$.deliveries') END AS deliveries
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
