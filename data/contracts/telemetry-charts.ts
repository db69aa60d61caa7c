// The charts of a section's mail telemetry on /section/<slug> (issue 10): what the page renders, and what the public
// JSON API behind the charts returns (GET /api/v1/sections/:slug/telemetry?range=24h).
import { z } from 'zod';
import type { RouteKind } from './route.ts';
import { Accounting } from './telemetry-accounting.ts';
import { RejectReason } from './telemetry.ts';

/** The ranges a visitor can pick (links that work without JavaScript). */
export const CHART_RANGES = ['24h', '7d', '30d'] as const;
export const ChartRange = z.enum(CHART_RANGES);
export type ChartRange = z.infer<typeof ChartRange>;
export const DEFAULT_CHART_RANGE: ChartRange = '24h';

const HOUR_MS = 3_600_000;
/**
 * Each range as intervals of one step, aligned to multiples of the step since the epoch (UTC hours, 6-hour blocks,
 * UTC days), so an interval is a whole number of rollup hours or days. The last interval is the one holding "now"
 * (partial); the range starts `intervals - 1` steps before it. At most 30 rows, so each table stays readable.
 * Where the backend keeps only days (TIDINGS_TELEMETRY_HOURS_RETENTION shorter than the range), a day's counts fall in
 * the interval its day starts in: an hourly or 6-hourly chart cannot split them.
 */
export const CHART_STEPS: Readonly<Record<ChartRange, { stepMs: number; intervals: number; label: string; per: string }>> = {
  '24h': { stepMs: HOUR_MS, intervals: 24, label: '24 hours', per: 'hour' },
  '7d': { stepMs: 6 * HOUR_MS, intervals: 28, label: '7 days', per: '6 hours' },
  '30d': { stepMs: 24 * HOUR_MS, intervals: 30, label: '30 days', per: 'day' },
};

/** A query's `range` as a ChartRange; null for anything else (the page falls back to the default, the API answers 400). */
export function parseChartRange(value: string | null | undefined): ChartRange | null {
  return (CHART_RANGES as readonly string[]).includes(value ?? '') ? (value as ChartRange) : null;
}

/**
 * The mail system a delivery route belongs to, for the charts of the migration (issue 13): the new system delivers to
 * a Maildir, over LMTP or by forwarding; 'legacy' relays to the old system.
 */
export const DELIVERY_SYSTEM: Readonly<Record<RouteKind, 'new' | 'legacy'>> = {
  maildir: 'new',
  lmtp: 'new',
  forward: 'new',
  legacy: 'legacy',
};

const Instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const Count = z.number().int().nonnegative();
const Slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,59}$/);

/** One interval [from, to) of the chart's time axis. */
export const ChartInterval = z.object({
  from: Instant,
  /** from + step, or now for the last (partial) interval. */
  to: Instant,
  /** Messages our 250 accepted in the interval; the outcomes below count deliveries (one per recipient). All nodes. */
  accepted: Count,
  delivered: Count,
  /** The delivered ones by the system that delivered them (DELIVERY_SYSTEM); new + legacy = delivered. */
  deliveredBy: z.object({ new: Count, legacy: Count }),
  deferred: Count,
  bounced: Count,
  quarantined: Count,
  discarded: Count,
  /** Rejections per reason, in the order of SectionCharts.rejectReasons. */
  rejected: z.array(Count),
  /**
   * Accept-to-delivery latency of the deliveries in the interval: the upper bound of the histogram bucket the
   * quantile falls in (LATENCY_BUCKETS_MS), merged over nodes and routes. null when nothing was delivered (never 0).
   * Overflow: the quantile is past the last bucket; the value is then the last bound ("more than").
   */
  p50Ms: Count.nullable(),
  p50Overflow: z.boolean(),
  p95Ms: Count.nullable(),
  p95Overflow: z.boolean(),
  /** Nodes that sent a heartbeat in the interval; 0 leaves the gauges null. */
  nodes: Count,
  /** Peak queued deliveries: each reporting node's largest reading in the interval, added up. null: no heartbeat. */
  queueDepth: Count.nullable(),
  /** The largest age of a node's oldest queued delivery in the interval, in ms. null: no heartbeat, or nothing queued. */
  oldestQueuedMs: Count.nullable(),
});
export type ChartInterval = z.infer<typeof ChartInterval>;

/** A deployment phase of one of the section's tasks that overlaps the range, for the shaded bands. */
export const ChartPhase = z.object({
  taskId: z.number().int().positive(),
  taskSummary: z.string(),
  title: z.string(),
  /** The phase's start (a phase without one started when its task was opened). */
  start: Instant,
  /** Its end, or now while it runs (an open end runs until the task is closed). */
  end: Instant,
  /** Still running at now. */
  running: z.boolean(),
});
export type ChartPhase = z.infer<typeof ChartPhase>;

export const SectionCharts = z.object({
  section: Slug,
  range: ChartRange,
  stepMs: z.number().int().positive(),
  /** The first interval's start, and now (the end of the last, partial interval). */
  from: Instant,
  to: Instant,
  /** Whether any MX node has ever reported (a heartbeat or a batch); false: every series is empty and says so. */
  reporting: z.boolean(),
  /** The reasons rejections had in the range, in REJECT_REASONS order (only those present). */
  rejectReasons: z.array(RejectReason),
  intervals: z.array(ChartInterval),
  phases: z.array(ChartPhase),
  /** The accounting line over [from, to); null when it cannot be measured. */
  accounting: Accounting.nullable(),
});
export type SectionCharts = z.infer<typeof SectionCharts>;

/**
 * GET /api/v1/sections/:slug/telemetry answers 200 with this for every existing section. `charts` is null for a
 * section no MX node reports for (only the one named by TIDINGS_TELEMETRY_SECTION has telemetry).
 */
export const SectionTelemetryResponse = z.object({
  section: Slug,
  range: ChartRange,
  charts: SectionCharts.nullable(),
});
export type SectionTelemetryResponse = z.infer<typeof SectionTelemetryResponse>;
