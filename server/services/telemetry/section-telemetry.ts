// The telemetry summary a section's /status.json entry carries: the last minutes of its nodes' rollups and heartbeats.
import { TELEMETRY_STATUS_WINDOW_MINUTES, type SectionTelemetry } from '#data/contracts/status.ts';
import { LATENCY_BUCKETS_MS, latencyQuantile } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { MINUTE_MS, minuteOf } from '../../store/telemetry.ts';
import { telemetrySummary } from './summary.ts';

/**
 * How stale a published summary may get: while a section shows telemetry the snapshot rebuilds at every multiple of
 * this (minute starts included, so a minute leaving the window leaves the summary on time), and accepted telemetry
 * bumps the change counter at most this often.
 */
export const TELEMETRY_REFRESH_MS = 15_000;

/**
 * The nodes' summary over the current minute and the TELEMETRY_STATUS_WINDOW_MINUTES - 1 before it, all nodes
 * together; null when no node has reported (no heartbeat and no event in the window).
 */
export function recentTelemetry(db: DB, now: Date): SectionTelemetry | null {
  const to = minuteOf(now.getTime()) + MINUTE_MS;
  const from = to - TELEMETRY_STATUS_WINDOW_MINUTES * MINUTE_MS;
  const s = telemetrySummary(db, { from, to }, now);
  if (s.nodes.length === 0 && s.outcomes.length === 0) return null;
  const count = (outcome: string) => s.outcomes.reduce((n, o) => (o.outcome === outcome ? n + o.count : n), 0);
  const p95 = latencyQuantile(s.latency, 0.95);
  const overflow = p95 === Number.POSITIVE_INFINITY;
  const newest = s.nodes.reduce<number | null>((m, n) => (m === null || n.receivedAt > m ? n.receivedAt : m), null);
  return {
    window: `${TELEMETRY_STATUS_WINDOW_MINUTES}m`,
    since: new Date(from).toISOString(),
    accepted: count('accepted'),
    delivered: count('delivered'),
    deferred: count('deferred'),
    bounced: count('bounced'),
    rejected: count('rejected'),
    p95LatencyMs: overflow ? LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] : p95,
    p95LatencyOverflow: overflow,
    queueDepth: s.nodes.reduce((n, h) => n + h.queueDepth, 0),
    nodes: s.nodes.length,
    lastHeartbeatAt: newest === null ? null : new Date(newest).toISOString(),
    // A heartbeat received "after" now (a clock set back) is as fresh as can be, not negative.
    freshestHeartbeatAgeMs: newest === null ? null : Math.max(0, now.getTime() - newest),
  };
}

/**
 * The snapshot's telemetry signal: the MX nodes report for the section `sectionSlug` (TIDINGS_TELEMETRY_SECTION), so
 * that section gets their summary and no other does. The slug is data: any section can be the one.
 */
export function telemetrySummarySignal(db: DB, sectionSlug: string): (slug: string, now: Date) => SectionTelemetry | null {
  return (slug, now) => (slug === sectionSlug ? recentTelemetry(db, now) : null);
}
