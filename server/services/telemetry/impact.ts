// A task's impact report: per deployment phase, measured numbers against the week before (data/contracts/telemetry-impact.ts).
import {
  IMPACT_BASELINE_MS,
  IMPACT_COVERAGE_SLACK_MS,
  type ImpactPeriod,
  type PhaseImpact,
  type TaskImpact,
} from '#data/contracts/telemetry-impact.ts';
import type { Accounting } from '#data/contracts/telemetry-accounting.ts';
import { LATENCY_BUCKETS_MS, latencyQuantile } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { sectionBySlug } from '../../store/overrides.ts';
import { LEVELS, prunedBefore, type Granularity } from '../../store/telemetry-rollups.ts';
import { reportSpanAt } from '../../store/telemetry-span.ts';
import { phaseRows, taskRow } from '../../store/tasks.ts';
import { accounting } from './accounting.ts';
import { telemetrySummary } from './summary.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The report of task `taskId`, or null when it has none: the task is not in the section the MX nodes report for
 * (`sectionSlug`, TIDINGS_TELEMETRY_SECTION), or it has no deployment plan. Running phases count up to `now`.
 */
export function taskImpact(db: DB, sectionSlug: string, taskId: number, now: Date): TaskImpact | null {
  const task = taskRow(db, taskId);
  const section = sectionBySlug(db, sectionSlug);
  if (!task || !section || task.section_id !== section.id) return null;
  const phases = phaseRows(db, taskId);
  if (phases.length === 0) return null;
  const t = now.getTime();
  const opened = Date.parse(task.opened_at);
  return {
    taskId,
    openedAt: iso(opened),
    now: iso(t),
    weekBefore: measure(db, opened - IMPACT_BASELINE_MS, opened, now),
    phases: phases.map((p): PhaseImpact => {
      // A phase without a start has been under way since the task opened (server/domain/plan.ts).
      const start = p.starts_at === null ? opened : Date.parse(p.starts_at);
      if (start > t) return { state: 'not-started', title: p.title, startsAt: iso(start) };
      // An end is inclusive (the phase's last millisecond); a phase still running is measured up to now.
      const end = p.ends_at === null ? null : Date.parse(p.ends_at) + 1;
      const done = end !== null && end <= t;
      const to = done ? end : t;
      return { state: done ? 'done' : 'running', title: p.title, during: measure(db, start, Math.max(start, to), now) };
    }),
  };
}

/** What the nodes reported over [from, to): the accounting line and the p95 delay, or that none reported. */
export function measure(db: DB, from: number, to: number, now: Date): ImpactPeriod {
  const span = reportSpan(db, from, to);
  if (!span) return { kind: 'no-telemetry', from: iso(from), to: iso(to) };
  const summary = telemetrySummary(db, { from, to }, now);
  const count = (outcome: string) => summary.outcomes.reduce((n, o) => (o.outcome === outcome ? n + o.count : n), 0);
  const line = accounting(db, { from, to }, now);
  const lost = lossOf(line, from, to);
  const p95 = latencyQuantile(summary.latency, 0.95);
  const overflow = p95 === Number.POSITIVE_INFINITY;
  const reportedFrom = Math.max(from, span.first);
  const reportedTo = Math.min(to, span.last);
  return {
    kind: 'measured',
    from: iso(from),
    to: iso(to),
    // The rollups count exactly the period (the accounting line runs between queue readings near its ends).
    acceptedMessages: count('accepted'),
    lost,
    accounting: lost === null ? null : line,
    delivered: count('delivered'),
    p95DelayMs: overflow ? LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] : p95,
    p95DelayOverflow: overflow,
    reportedFrom: iso(reportedFrom),
    reportedTo: iso(reportedTo),
    partial: reportedFrom - from > IMPACT_COVERAGE_SLACK_MS || to - reportedTo > IMPACT_COVERAGE_SLACK_MS,
  };
}

/**
 * The accounting line's `unaccounted` as the period's loss, when it measures the period: null (not measured) when
 * there is no line, no queue reading by `to`, or the line's readings lie more than IMPACT_COVERAGE_SLACK_MS before
 * the period's ends (a node that stopped reporting mid-phase: the line would be about another span).
 */
export function lossOf(line: Accounting | null, from: number, to: number): number | null {
  if (!line || line.queued === null || line.unaccounted === null || line.measuredTo === null) return null;
  if (to - Date.parse(line.measuredTo) > IMPACT_COVERAGE_SLACK_MS) return null;
  // measuredFrom null: the line starts at the nodes' first event, before which nothing was queued.
  if (line.measuredFrom !== null && from - Date.parse(line.measuredFrom) > IMPACT_COVERAGE_SLACK_MS) return null;
  return line.unaccounted;
}

/**
 * The first and last instant of [from, to) that a node's report covers (a bucket with an event count or a heartbeat's
 * gauges), or null when no node reported in it. Each part of the range is read at the finest granularity kept there,
 * as the summary reads it: minutes wherever there are any (all of them from the minutes' pruning watermark on, a late
 * backlog below it), hours below that watermark, days below the hours' one. Bucket starts in [from, to) count, as in
 * the summary.
 */
function reportSpan(db: DB, from: number, to: number): { first: number; last: number } | null {
  let first: number | null = null;
  let last: number | null = null;
  db.transaction(() => {
    const pm = prunedBefore(db, 'minutes');
    const ph = Math.min(prunedBefore(db, 'hours'), pm);
    const reads: [Granularity, number][] = [
      ['minute', to],
      ['hour', Math.min(to, pm)],
      ['day', Math.min(to, ph)],
    ];
    for (const [g, end] of reads) {
      if (end <= from) continue;
      const s = reportSpanAt(db, g, { from, to: end });
      if (!s) continue;
      if (first === null || s.first < first) first = s.first;
      const bucketEnd = s.last + LEVELS[g].ms;
      if (last === null || bucketEnd > last) last = bucketEnd;
    }
  }).deferred();
  return first === null || last === null ? null : { first, last };
}
