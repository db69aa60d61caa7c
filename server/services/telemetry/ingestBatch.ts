// Applies a batch of a node's event log to the minute rollups, exactly once per (node, seq): see TelemetryBatch in
// data/contracts/telemetry.ts for the cursor rules this follows.
import {
  BOUNCE_REASONS,
  LATENCY_BUCKETS_MS,
  REJECT_REASONS,
  ROUTE_KINDS,
  TELEMETRY_EVENT_TYPES,
  type TelemetryAck,
  type TelemetryBatch,
  type TelemetryEvent,
  type TelemetryEventType,
} from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { Clock } from '../../deps.ts';
import { Conflict, Unprocessable } from '../../domain/errors.ts';
import type { MxNode } from '../../store/mail.ts';
import { indexQuarantined, refuseAction, resolveCopy } from '../../store/quarantine.ts';
import { recordShadowVerdicts, type ShadowEvent } from '../../store/shadow.ts';
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

/**
 * The route and reason an event is counted under ('' where it has none); null for the quarantine's 'released',
 * 'purged' and 'quarantine-refused', which are not rolled into the minutes (telemetry_minutes counts what happened to mail as it arrived and
 * left; a staff release is counted by the accounting line and the quarantine index instead), and for 'shadow-verdict'
 * (a dry run: the shadow report counts it, server/store/shadow.ts).
 */
function keyOf(e: TelemetryEvent): { route: OutcomeCount['route']; reason: string } | null {
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
    case 'released':
    case 'purged':
    case 'quarantine-refused':
    case 'shadow-verdict':
      return null;
  }
}

// Outcome buckets of one minute as small integers: type, route ('' first) and reason ('' first; every reason of the
// contract once, 'expired' is both a reject and a bounce reason), so counting is an array increment, not a string key.
const TYPES: readonly TelemetryEventType[] = TELEMETRY_EVENT_TYPES;
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));
const ROUTES: readonly OutcomeCount['route'][] = ['', ...ROUTE_KINDS];
const ROUTE_CODE = new Map(ROUTES.map((r, i) => [r, i]));
const REASONS: readonly string[] = [...new Set(['', ...REJECT_REASONS, ...BOUNCE_REASONS])];
const REASON_CODE = new Map(REASONS.map((r, i) => [r, i]));
const OUTCOME_CODES = TYPES.length * ROUTES.length * REASONS.length;
const LATENCY_CODES = ROUTE_KINDS.length * (LATENCY_BUCKETS_MS.length + 1);

/** latencyBucket (data/contracts/telemetry.ts) by binary search over the same bounds. */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS_MS.length; // the answer is in [lo, hi]; hi = +Inf
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= LATENCY_BUCKETS_MS[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

interface MinuteCounts {
  minute: number;
  outcomes: Uint32Array;
  /** null until the minute has a delivery. */
  latency: Uint32Array | null;
}

/**
 * The batch's events from index `from` on, summed per bucket, so each bucket is written once per batch; buckets in
 * the order of their minute's first event, then by type, route and reason (outcomes) or route and bucket (latency).
 */
export function rollUp(events: readonly TelemetryEvent[], from = 0): { outcomes: OutcomeCount[]; latency: LatencyCount[] } {
  const minutes = new Map<number, MinuteCounts>();
  let last: MinuteCounts | undefined;
  for (let i = from; i < events.length; i++) {
    const e = events[i];
    const key = keyOf(e);
    if (key === null) continue;
    const minute = minuteOf(e.at);
    let m = last !== undefined && last.minute === minute ? last : minutes.get(minute);
    if (m === undefined) {
      m = { minute, outcomes: new Uint32Array(OUTCOME_CODES), latency: null };
      minutes.set(minute, m);
    }
    last = m;
    const { route, reason } = key;
    const code =
      ((TYPE_CODE.get(e.type) as number) * ROUTES.length + (ROUTE_CODE.get(route) as number)) * REASONS.length +
      (REASON_CODE.get(reason) as number);
    m.outcomes[code]++;
    if (e.type === 'delivered') {
      m.latency ??= new Uint32Array(LATENCY_CODES);
      m.latency[((ROUTE_CODE.get(e.route) as number) - 1) * (LATENCY_BUCKETS_MS.length + 1) + bucketOf(e.latencyMs)]++;
    }
  }
  const outcomes: OutcomeCount[] = [];
  const latency: LatencyCount[] = [];
  for (const m of minutes.values()) {
    for (let code = 0; code < OUTCOME_CODES; code++) {
      const count = m.outcomes[code];
      if (count === 0) continue;
      const reason = code % REASONS.length;
      const rest = (code - reason) / REASONS.length;
      const route = rest % ROUTES.length;
      const type = (rest - route) / ROUTES.length;
      outcomes.push({ minute: m.minute, route: ROUTES[route], outcome: TYPES[type], reason: REASONS[reason], count });
    }
    if (m.latency === null) continue;
    for (let code = 0; code < LATENCY_CODES; code++) {
      const count = m.latency[code];
      if (count === 0) continue;
      const bucket = code % (LATENCY_BUCKETS_MS.length + 1);
      const route = ROUTE_KINDS[(code - bucket) / (LATENCY_BUCKETS_MS.length + 1)];
      latency.push({ minute: m.minute, route, bucket, count });
    }
  }
  return { outcomes, latency };
}

/**
 * The quarantine index (data/contracts/quarantine.ts) from the batch's new events, in its transaction: a copy
 * quarantined with its entry is held; 'released' and 'purged' move it and resolve the staff actions on it;
 * 'quarantine-refused' resolves the one action the node applied no change for, as 'refused' with the node's why. A virus
 * is indexed as one whatever the event's reason says, so that it can never be offered for release.
 */
function indexQuarantine(db: DB, nodeId: number, events: readonly TelemetryEvent[], from: number, now: number): void {
  for (let i = from; i < events.length; i++) {
    const e = events[i];
    switch (e.type) {
      case 'quarantined':
        if (e.entry)
          indexQuarantined(
            db,
            nodeId,
            {
              messageId: e.messageId,
              reason: e.reason === 'virus' || e.entry.virus !== null ? 'virus' : 'spam',
              at: e.at,
              entry: e.entry,
            },
            now,
          );
        break;
      case 'released':
        resolveCopy(
          db,
          nodeId,
          { deliveryId: e.deliveryId, messageId: e.messageId, at: e.at, status: 'released', purgeReason: null, actionId: e.actionId },
          now,
        );
        break;
      case 'purged':
        resolveCopy(
          db,
          nodeId,
          {
            deliveryId: e.deliveryId,
            messageId: e.messageId,
            at: e.at,
            status: 'purged',
            purgeReason: e.reason,
            actionId: e.actionId ?? null,
          },
          now,
        );
        break;
      case 'quarantine-refused':
        refuseAction(db, nodeId, { actionId: e.actionId, deliveryId: e.deliveryId, why: e.why }, now);
        break;
    }
  }
}

/** The batch's shadow-verdict events from index `from` on. */
function shadowVerdicts(events: readonly TelemetryEvent[], from: number): ShadowEvent[] {
  const out: ShadowEvent[] = [];
  for (let i = from; i < events.length; i++) {
    const e = events[i];
    if (e.type === 'shadow-verdict') out.push(e);
  }
  return out;
}

/** The first event dated more than MAX_FUTURE_MS after `now`, if any. */
function firstFromFuture(events: readonly TelemetryEvent[], now: number): TelemetryEvent | undefined {
  for (const e of events) if (e.at > now + MAX_FUTURE_MS) return e;
  return undefined;
}

/** The batch's work inside its transaction, made once per database (db.transaction builds a wrapper each call). */
const APPLY = new WeakMap<DB, (nodeId: number, batch: TelemetryBatch, now: number) => TelemetryAck>();

function applier(db: DB): (nodeId: number, batch: TelemetryBatch, now: number) => TelemetryAck {
  let apply = APPLY.get(db);
  if (!apply) {
    const tx = db.transaction((nodeId: number, batch: TelemetryBatch, now: number): TelemetryAck => {
      const cursor = readCursor(db, nodeId);
      if (batch.after > cursor) throw new TelemetryGap(batch.after, cursor);
      // Events are in increasing seq order (TelemetryBatch): the new ones are a tail.
      const events = batch.events;
      let from = 0;
      while (from < events.length && events[from].seq <= cursor) from++;
      if (from === events.length) return { cursor, applied: 0 };
      const { outcomes, latency } = rollUp(events, from);
      addOutcomeCounts(db, nodeId, outcomes);
      addLatencyCounts(db, nodeId, latency);
      countEvents(db, nodeId, cursor, events, from);
      indexQuarantine(db, nodeId, events, from, now);
      recordShadowVerdicts(db, shadowVerdicts(events, from));
      const last = events[events.length - 1].seq;
      writeCursor(db, nodeId, last, now);
      return { cursor: last, applied: events.length - from };
    });
    apply = (nodeId, batch, now) => tx.immediate(nodeId, batch, now);
    APPLY.set(db, apply);
  }
  return apply;
}

/**
 * Refuses the whole batch (nothing changes) when it would skip events (TelemetryGap) or holds an event from the
 * future (TelemetryFromFuture); otherwise counts the events after the node's cursor and moves the cursor to the
 * batch's last seq, all in one transaction.
 */
export function ingestBatch({ db, clock, node, batch }: { db: DB; clock: Clock; node: MxNode; batch: TelemetryBatch }): TelemetryAck {
  const now = clock().getTime();
  const late = firstFromFuture(batch.events, now);
  if (late) throw new TelemetryFromFuture(late.seq, late.at, now);
  return applier(db)(node.id, batch, now);
}
