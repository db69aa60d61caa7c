// What the charts, the Email light and status.json read: telemetry summed over a time range, and each node's freshness.
import { LATENCY_BUCKETS_MS, type RouteKind, type TelemetryEventType, type TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { HOUR_MS, latestHeartbeats } from '../../store/telemetry.ts';
import {
  DAY_MS,
  dirtyHoursIn,
  prunedBefore,
  sumLatencyAt,
  sumOutcomesAt,
  type BucketRange,
  type Granularity,
  type OutcomeSum,
} from '../../store/telemetry-rollups.ts';

export interface TelemetryRange {
  /**
   * Milliseconds since the epoch: the buckets starting in [from, to) are summed. Minutes where they are kept; before
   * the minutes' retention, hours (so such a range starts at the first whole hour after `from`), and before the hours'
   * retention, days (the first whole day after `from`).
   */
  from: number;
  to: number;
  /** One node's telemetry; all nodes when left out. */
  nodeId?: number;
}

export interface TelemetrySummary {
  from: number;
  to: number;
  /** Event counts per outcome, reason and route ('' where the event has none), summed over the range. */
  outcomes: { outcome: TelemetryEventType; reason: string; route: RouteKind | ''; count: number }[];
  /** Accept-to-delivery latency histogram over all routes: counts per bucket of LATENCY_BUCKETS_MS, +Inf last. */
  latency: number[];
  /** The same per route, for the routes that delivered in the range. */
  latencyByRoute: Partial<Record<RouteKind, number[]>>;
  /** The latest heartbeat of each node (of the one node asked for), with its age by the backend's clock. */
  nodes: (TelemetryHeartbeat & { nodeId: number; nodeName: string; receivedAt: number; ageMs: number })[];
}

const emptyHistogram = () => new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);

const ceilTo = (at: number, ms: number): number => Math.ceil(at / ms) * ms;
const floorTo = (at: number, ms: number): number => at - (at % ms);

/**
 * The reads that sum a range exactly, whatever the rollup job has done so far:
 * - From the minutes' pruning watermark on, the minutes are complete. There, whole hours that are rolled (not marked
 *   since: their hour rows are the sum of their minutes) are read from the hours, which is 60 times fewer rows, and
 *   the rest (marked or open hours, and the partial hours at the range's ends) from the minutes.
 * - Below it, the hours, plus the minute rows still there: a late backlog the job has not folded into its hour yet
 *   (every other minute row below the watermark was counted in its hour and deleted).
 * - Below the hours' watermark, the days, plus what is left of hours and minutes there, for the same reason.
 */
export function summaryReads(db: DB, range: TelemetryRange): { g: Granularity; range: BucketRange }[] {
  const pm = prunedBefore(db, 'minutes');
  const ph = Math.min(prunedBefore(db, 'hours'), pm);
  const node = range.nodeId === undefined ? {} : { nodeId: range.nodeId };
  const reads: { g: Granularity; range: BucketRange }[] = [];
  const add = (gs: Granularity[], from: number, to: number, rolledOnly = false) => {
    if (from < to) for (const g of gs) reads.push({ g, range: { from, to, ...node, ...(rolledOnly ? { rolledOnly } : {}) } });
  };
  add(['day', 'hour', 'minute'], ceilTo(range.from, DAY_MS), Math.min(ph, ceilTo(range.to, DAY_MS)));
  add(['hour', 'minute'], Math.max(ceilTo(range.from, HOUR_MS), ph), Math.min(pm, ceilTo(range.to, HOUR_MS)));
  const from = Math.max(range.from, pm);
  const whole = { from: ceilTo(from, HOUR_MS), to: floorTo(range.to, HOUR_MS) };
  if (whole.from < whole.to) {
    add(['minute'], from, whole.from);
    add(['hour'], whole.from, whole.to, true);
    // Marked hours (few: the open one, and any a backlog reached) by minute, each an index range.
    for (const hour of dirtyHoursIn(db, whole.from, whole.to)) add(['minute'], hour, hour + HOUR_MS);
    add(['minute'], whole.to, range.to);
  } else add(['minute'], from, range.to);
  return reads;
}

export function telemetrySummary(db: DB, range: TelemetryRange, now: Date): TelemetrySummary {
  const latency = emptyHistogram();
  const latencyByRoute: Partial<Record<RouteKind, number[]>> = {};
  const outcomes = new Map<string, OutcomeSum>();
  // One read transaction: the watermarks and the rows they describe are read as of one moment.
  db.transaction(() => {
    for (const read of summaryReads(db, range)) {
      for (const r of sumLatencyAt(db, read.g, read.range)) {
        latency[r.bucket] += r.count;
        latencyByRoute[r.route] ??= emptyHistogram();
        latencyByRoute[r.route]![r.bucket] += r.count;
      }
      for (const r of sumOutcomesAt(db, read.g, read.range)) {
        const key = `${r.outcome}\u0000${r.reason}\u0000${r.route}`;
        const o = outcomes.get(key);
        if (o) o.count += r.count;
        else outcomes.set(key, { outcome: r.outcome, reason: r.reason, route: r.route, count: r.count });
      }
    }
  }).deferred();
  const t = now.getTime();
  return {
    from: range.from,
    to: range.to,
    // In the order the minutes' query gave: outcome, reason, route.
    outcomes: [...outcomes.values()]
      .sort((a, b) => cmp(a.outcome, b.outcome) || cmp(a.reason, b.reason) || cmp(a.route, b.route))
      .map((r) => ({ outcome: r.outcome, reason: r.reason, route: r.route, count: r.count })),
    latency,
    latencyByRoute,
    nodes: latestHeartbeats(db, range.nodeId).map((h) => ({ ...h, ageMs: t - h.receivedAt })),
  };
}

/** Byte order, as SQLite's ORDER BY compares TEXT (BINARY collation). */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
