// The section charts' data: series over 24 h, 7 days or 30 days read from the rollups, exact per interval.
import {
  CHART_STEPS,
  DELIVERY_SYSTEM,
  type ChartInterval,
  type ChartPhase,
  type ChartRange,
  type SectionCharts,
} from '#data/contracts/telemetry-charts.ts';
import { LATENCY_BUCKETS_MS, REJECT_REASONS, latencyQuantile, type RejectReason } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { gaugeSeries, latencySeries, outcomeSeries, type BucketRange, type Granularity } from '../../store/telemetry-rollups.ts';
import { accounting } from './accounting.ts';
import { summaryReads } from './summary.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/** A quantile as the contract carries it: the bucket's bound, overflow past the last one, null with no delivery. */
function quantile(histogram: readonly number[], q: number): { ms: number | null; overflow: boolean } {
  const v = latencyQuantile(histogram, q);
  if (v === Number.POSITIVE_INFINITY) return { ms: LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1], overflow: true };
  return { ms: v, overflow: false };
}

interface PhaseRow {
  taskId: number;
  taskSummary: string;
  title: string;
  startsAt: string | null;
  endsAt: string | null;
  openedAt: string;
  closedAt: string | null;
}

/**
 * The deployment phases of the section's tasks that overlap [from, now]. A phase without a start has been under way
 * since its task was opened, one without an end runs until the task is closed (server/domain/plan.ts); a phase still
 * running ends at now.
 */
function phasesOverlapping(db: DB, slug: string, from: number, now: number): ChartPhase[] {
  const rows = db
    .prepare(`SELECT p.task_id AS taskId, t.summary AS taskSummary, p.title, p.starts_at AS startsAt, p.ends_at AS endsAt,
                     t.opened_at AS openedAt, t.closed_at AS closedAt
              FROM phases p JOIN tasks t ON t.id = p.task_id JOIN sections s ON s.id = t.section_id
              WHERE s.slug = ? ORDER BY p.task_id, p.position, p.id`)
    .all(slug) as PhaseRow[];
  const out: ChartPhase[] = [];
  for (const r of rows) {
    const start = Date.parse(r.startsAt ?? r.openedAt);
    const endAt = r.endsAt ?? r.closedAt;
    const end = endAt === null ? now : Date.parse(endAt);
    if (start > now || end < from || start > end) continue;
    out.push({
      taskId: r.taskId,
      taskSummary: r.taskSummary,
      title: r.title,
      start: iso(start),
      end: iso(Math.min(end, now)),
      running: endAt === null || end > now,
    });
  }
  return out.sort((a, b) => a.start.localeCompare(b.start) || a.taskId - b.taskId);
}

/**
 * The charts of the nodes' telemetry over `range` ending at `now`, for the section `slug` they report for. Every
 * interval is summed exactly as telemetrySummary sums a range (summaryReads: rolled hours and days where they are
 * complete, minutes elsewhere), so the intervals add up to the range's totals whatever the rollup job has done.
 */
export function sectionCharts(db: DB, slug: string, range: ChartRange, now: Date): SectionCharts {
  const { stepMs, intervals: n } = CHART_STEPS[range];
  const t = now.getTime();
  const first = t - (t % stepMs) - (n - 1) * stepMs;
  const index = (at: number) => Math.min(n - 1, Math.max(0, Math.floor((at - first) / stepMs)));

  const counts = Array.from({ length: n }, () => new Map<string, number>());
  const histograms = Array.from({ length: n }, () => new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0));
  // Per interval, per node: its largest readings.
  const gauges = Array.from({ length: n }, () => new Map<number, { depth: number; oldest: number | null }>());
  let reporting = false;
  let phases: ChartPhase[] = [];

  // One read transaction: the watermarks and the rows they describe are read as of one moment.
  db.transaction(() => {
    reporting =
      db.prepare('SELECT 1 FROM telemetry_heartbeats LIMIT 1').get() !== undefined ||
      db.prepare('SELECT 1 FROM telemetry_cursors LIMIT 1').get() !== undefined;
    // telemetry_gauge_minutes is keyed (node_id, minute) with no index by minute: its reads go node by node, each an
    // index range, instead of a scan of every node's 14 days of minutes. The hour and day tables have one by time.
    const nodeIds = (db.prepare('SELECT id FROM mx_nodes ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    const gaugeRows = (read: { g: Granularity; range: BucketRange }) =>
      read.g === 'minute'
        ? nodeIds.flatMap((nodeId) => gaugeSeries(db, 'minute', { ...read.range, nodeId }))
        : gaugeSeries(db, read.g, read.range);
    for (const read of summaryReads(db, { from: first, to: t })) {
      for (const r of outcomeSeries(db, read.g, read.range)) {
        const key = r.outcome === 'rejected' ? `rejected:${r.reason}` : r.outcome;
        const m = counts[index(r.at)];
        m.set(key, (m.get(key) ?? 0) + r.count);
        // A 'delivered' event always names its route; '' is only for events without one.
        if (r.outcome === 'delivered' && r.route !== '') {
          const by = `delivered:${DELIVERY_SYSTEM[r.route]}`;
          m.set(by, (m.get(by) ?? 0) + r.count);
        }
      }
      for (const r of latencySeries(db, read.g, read.range)) histograms[index(r.at)][r.bucket] += r.count;
      for (const r of gaugeRows(read)) {
        const m = gauges[index(r.at)];
        const g = m.get(r.nodeId);
        const oldest = r.oldestQueuedMsMax;
        if (!g) m.set(r.nodeId, { depth: r.queueDepthMax, oldest });
        else {
          g.depth = Math.max(g.depth, r.queueDepthMax);
          g.oldest = oldest === null ? g.oldest : Math.max(g.oldest ?? 0, oldest);
        }
      }
    }
    phases = phasesOverlapping(db, slug, first, t);
  }).deferred();

  const present = new Set<string>();
  for (const m of counts) for (const k of m.keys()) if (k.startsWith('rejected:')) present.add(k.slice('rejected:'.length));
  const rejectReasons = REJECT_REASONS.filter((r) => present.has(r)) as RejectReason[];

  const intervals: ChartInterval[] = counts.map((m, i) => {
    const from = first + i * stepMs;
    const p50 = quantile(histograms[i], 0.5);
    const p95 = quantile(histograms[i], 0.95);
    const nodes = [...gauges[i].values()];
    const oldest = nodes.reduce<number | null>((a, g) => (g.oldest === null ? a : Math.max(a ?? 0, g.oldest)), null);
    return {
      from: iso(from),
      to: iso(Math.min(from + stepMs, t)),
      accepted: m.get('accepted') ?? 0,
      delivered: m.get('delivered') ?? 0,
      deliveredBy: { new: m.get('delivered:new') ?? 0, legacy: m.get('delivered:legacy') ?? 0 },
      deferred: m.get('deferred') ?? 0,
      bounced: m.get('bounced') ?? 0,
      quarantined: m.get('quarantined') ?? 0,
      discarded: m.get('discarded') ?? 0,
      rejected: rejectReasons.map((r) => m.get(`rejected:${r}`) ?? 0),
      p50Ms: p50.ms,
      p50Overflow: p50.overflow,
      p95Ms: p95.ms,
      p95Overflow: p95.overflow,
      nodes: nodes.length,
      queueDepth: nodes.length === 0 ? null : nodes.reduce((a, g) => a + g.depth, 0),
      oldestQueuedMs: oldest,
    };
  });

  return {
    section: slug,
    range,
    stepMs,
    from: iso(first),
    to: iso(t),
    reporting,
    rejectReasons,
    intervals,
    phases,
    accounting: accounting(db, { from: first, to: t }, now),
  };
}
