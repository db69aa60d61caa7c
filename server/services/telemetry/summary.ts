// What the charts, the Email light and status.json read: telemetry summed over a time range, and each node's freshness.
import { LATENCY_BUCKETS_MS, type RouteKind, type TelemetryEventType, type TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { HOUR_MS, latestHeartbeats } from '../../store/telemetry.ts';
import {
  DAY_MS,
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

/**
 * Which table answers which part of a range. Minutes answer from the minutes' pruning watermark on. Below it the
 * hours answer, plus the minute rows still there (a late backlog the job has not folded into its hour yet: every
 * other minute row below the watermark was counted in an hour and deleted); below the hours' watermark the days
 * answer, plus what is left of hours and minutes there. So the sum is exact whatever the job has done so far.
 */
export function summaryParts(db: DB, range: TelemetryRange): { granularities: Granularity[]; range: BucketRange }[] {
  const pm = prunedBefore(db, 'minutes');
  const ph = Math.min(prunedBefore(db, 'hours'), pm);
  const node = range.nodeId === undefined ? {} : { nodeId: range.nodeId };
  const parts: { granularities: Granularity[]; range: BucketRange }[] = [];
  const days = { from: ceilTo(range.from, DAY_MS), to: Math.min(ph, ceilTo(range.to, DAY_MS)) };
  if (days.from < days.to) parts.push({ granularities: ['day', 'hour', 'minute'], range: { ...days, ...node } });
  const hours = { from: Math.max(ceilTo(range.from, HOUR_MS), ph), to: Math.min(pm, ceilTo(range.to, HOUR_MS)) };
  if (hours.from < hours.to) parts.push({ granularities: ['hour', 'minute'], range: { ...hours, ...node } });
  const minutes = { from: Math.max(range.from, pm), to: range.to };
  if (minutes.from < minutes.to) parts.push({ granularities: ['minute'], range: { ...minutes, ...node } });
  return parts;
}

export function telemetrySummary(db: DB, range: TelemetryRange, now: Date): TelemetrySummary {
  const latency = emptyHistogram();
  const latencyByRoute: Partial<Record<RouteKind, number[]>> = {};
  const outcomes = new Map<string, OutcomeSum>();
  // One read transaction: the watermarks and the rows they describe are read as of one moment.
  db.transaction(() => {
    for (const part of summaryParts(db, range)) {
      for (const g of part.granularities) {
        for (const r of sumLatencyAt(db, g, part.range)) {
          latency[r.bucket] += r.count;
          latencyByRoute[r.route] ??= emptyHistogram();
          latencyByRoute[r.route]![r.bucket] += r.count;
        }
        for (const r of sumOutcomesAt(db, g, part.range)) {
          const key = `${r.outcome}\u0000${r.reason}\u0000${r.route}`;
          const o = outcomes.get(key);
          if (o) o.count += r.count;
          else outcomes.set(key, { outcome: r.outcome, reason: r.reason, route: r.route, count: r.count });
        }
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
