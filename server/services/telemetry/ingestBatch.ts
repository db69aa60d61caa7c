// Applies a batch of a node's event log to the minute rollups, exactly once per (node, seq): see TelemetryBatch in
// data/contracts/telemetry.ts for the cursor rules this follows.
import { latencyBucket, type TelemetryAck, type TelemetryBatch, type TelemetryEvent } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { Clock } from '../../deps.ts';
import { Conflict, Unprocessable } from '../../domain/errors.ts';
import type { MxNode } from '../../store/mail.ts';
import { countEvents } from '../../store/telemetry-accounting.ts';
import {
  addLatencyCounts,
  addOutcomeCounts,
  minuteOf,
  readCursor,
  writeCursor,
  type LatencyCount,
  type OutcomeCount,
} from '../../store/telemetry.ts';

/** How far ahead of the backend's clock a node's timestamp may be (clock skew) before the batch is refused. */
export const MAX_FUTURE_MS = 5 * 60_000;

/** 409: the batch starts after the backend's cursor; `cursor` (also in the answer's body) is where to resend from. */
export class TelemetryGap extends Conflict {
  readonly cursor: number;
  constructor(after: number, cursor: number) {
    super(`The batch starts after seq ${after}, but the backend holds events up to seq ${cursor}: resend from ${cursor}.`, [], { cursor });
    this.cursor = cursor;
  }
}

/** 422: an event dated more than MAX_FUTURE_MS after the backend's clock. */
export class TelemetryFromFuture extends Unprocessable {
  constructor(seq: number, at: number, now: number) {
    super(
      `Event seq ${seq} is dated ${new Date(at).toISOString()}, more than ${MAX_FUTURE_MS / 60_000} minutes after the backend's clock (${new Date(now).toISOString()}); nothing of the batch was applied.`,
      [{ field: 'events', message: `seq ${seq} is in the future` }],
      { seq },
    );
  }
}

/** The route and reason an event is counted under ('' where it has none). */
function keyOf(e: TelemetryEvent): { route: OutcomeCount['route']; reason: string } {
  switch (e.type) {
    case 'rejected':
      return { route: '', reason: e.reason };
    case 'delivered':
    case 'deferred':
      return { route: e.route, reason: '' };
    case 'bounced':
      return { route: e.route, reason: e.reason };
    case 'quarantined':
    case 'discarded':
      return { route: '', reason: e.reason ?? '' };
    case 'accepted':
    case 'dsn':
      return { route: '', reason: '' };
  }
}

/** The batch's new events summed per bucket, so each bucket is written once per batch. */
export function rollUp(events: readonly TelemetryEvent[]): { outcomes: OutcomeCount[]; latency: LatencyCount[] } {
  const outcomes = new Map<string, OutcomeCount>();
  const latency = new Map<string, LatencyCount>();
  for (const e of events) {
    const minute = minuteOf(e.at);
    const { route, reason } = keyOf(e);
    const ok = `${minute}\u0000${route}\u0000${e.type}\u0000${reason}`;
    const o = outcomes.get(ok);
    if (o) o.count++;
    else outcomes.set(ok, { minute, route, outcome: e.type, reason, count: 1 });
    if (e.type === 'delivered') {
      const bucket = latencyBucket(e.latencyMs);
      const lk = `${minute}\u0000${e.route}\u0000${bucket}`;
      const l = latency.get(lk);
      if (l) l.count++;
      else latency.set(lk, { minute, route: e.route, bucket, count: 1 });
    }
  }
  return { outcomes: [...outcomes.values()], latency: [...latency.values()] };
}

/**
 * Refuses the whole batch (nothing changes) when it would skip events (TelemetryGap) or holds an event from the
 * future (TelemetryFromFuture); otherwise counts the events after the node's cursor and moves the cursor to the
 * batch's last seq, all in one transaction.
 */
export function ingestBatch({ db, clock, node, batch }: { db: DB; clock: Clock; node: MxNode; batch: TelemetryBatch }): TelemetryAck {
  const now = clock().getTime();
  const late = batch.events.find((e) => e.at > now + MAX_FUTURE_MS);
  if (late) throw new TelemetryFromFuture(late.seq, late.at, now);
  return db
    .transaction((): TelemetryAck => {
      const cursor = readCursor(db, node.id);
      if (batch.after > cursor) throw new TelemetryGap(batch.after, cursor);
      const fresh = batch.events.filter((e) => e.seq > cursor);
      if (fresh.length === 0) return { cursor, applied: 0 };
      const { outcomes, latency } = rollUp(fresh);
      addOutcomeCounts(db, node.id, outcomes);
      addLatencyCounts(db, node.id, latency);
      countEvents(db, node.id, cursor, fresh);
      const last = fresh[fresh.length - 1].seq;
      writeCursor(db, node.id, last, now);
      return { cursor: last, applied: fresh.length };
    })
    .immediate();
}
