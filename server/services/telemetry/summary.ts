// What the charts, the Email light and status.json read: telemetry summed over a time range, and each node's freshness.
import { LATENCY_BUCKETS_MS, type RouteKind, type TelemetryEventType, type TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { latestHeartbeats, sumLatency, sumOutcomes } from '../../store/telemetry.ts';

export interface TelemetryRange {
  /** Milliseconds since the epoch: the minute buckets starting in [from, to) are summed. */
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

export function telemetrySummary(db: DB, range: TelemetryRange, now: Date): TelemetrySummary {
  const latency = emptyHistogram();
  const latencyByRoute: Partial<Record<RouteKind, number[]>> = {};
  for (const r of sumLatency(db, range)) {
    latency[r.bucket] += r.count;
    latencyByRoute[r.route] ??= emptyHistogram();
    latencyByRoute[r.route]![r.bucket] += r.count;
  }
  const t = now.getTime();
  return {
    from: range.from,
    to: range.to,
    outcomes: sumOutcomes(db, range).map((r) => ({ outcome: r.outcome, reason: r.reason, route: r.route, count: r.count })),
    latency,
    latencyByRoute,
    nodes: latestHeartbeats(db, range.nodeId).map((h) => ({ ...h, ageMs: t - h.receivedAt })),
  };
}
