// The impact report on a task page (issue 10): per deployment phase, the accounting line and p95 delay measured
// during the phase, next to the week before the task opened. Built by server/services/telemetry/impact.ts, rendered
// by site/components/ImpactReport.astro. Nothing here is a made-up zero: what was not measured is null or says so.
import { z } from 'zod';
import { Accounting } from './telemetry-accounting.ts';

const Instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const Count = z.number().int().nonnegative();

/** The week before the task opened: [openedAt - 7 days, openedAt). */
export const IMPACT_BASELINE_MS = 7 * 86_400_000;
/**
 * A measured period whose first report came this long after its start, or whose last report ended this long before
 * its end, says which part of it the telemetry covers (nodes send a heartbeat every 15 s, so a node that was up has
 * a report in every minute).
 */
export const IMPACT_COVERAGE_SLACK_MS = 5 * 60_000;

/** No node reported in the period: no event and no heartbeat. The page says so and shows no number. */
export const NoTelemetry = z.object({
  kind: z.literal('no-telemetry'),
  from: Instant,
  to: Instant,
});

/** What the nodes reported over [from, to). */
export const MeasuredPeriod = z.object({
  kind: z.literal('measured'),
  from: Instant,
  to: Instant,
  /** Messages our 250 accepted in the period (the rollups' 'accepted' events in [from, to)). */
  acceptedMessages: Count,
  /**
   * Deliveries the accounting line (data/contracts/telemetry-accounting.ts) cannot place: its `unaccounted`, neither
   * delivered, bounced, quarantined, discarded nor still queued. Null when the loss is not measured: no line, no
   * queue reading by the period's end, a node too old to count its deliveries, or readings more than
   * IMPACT_COVERAGE_SLACK_MS before either end of the period. Negative when more outcomes than accepted deliveries
   * were counted (the line does not balance).
   */
  lost: z.number().int().nullable(),
  /** The accounting line itself when it measures the period (lost is its unaccounted then); null when lost is null. */
  accounting: Accounting.nullable(),
  /** Deliveries (one per recipient) that reached their mailbox or next hop in the period. */
  delivered: Count,
  /**
   * Accept-to-delivery p95 as the upper bound of its histogram bucket ("p95 ≤ this"); null when nothing was delivered
   * in the period.
   */
  p95DelayMs: z.number().int().positive().nullable(),
  /** True when p95 lies past the histogram's largest bound: p95DelayMs is then that bound and p95 is above it. */
  p95DelayOverflow: z.boolean(),
  /**
   * The part of the period the reports span (first report's bucket start to last report's bucket end, clipped to
   * the period). Gaps inside it are not detected: a node's backlog ships after an outage, so its events still count.
   */
  reportedFrom: Instant,
  reportedTo: Instant,
  /** True when the reports start or end more than IMPACT_COVERAGE_SLACK_MS inside the period. */
  partial: z.boolean(),
});
export type MeasuredPeriod = z.infer<typeof MeasuredPeriod>;

export const ImpactPeriod = z.discriminatedUnion('kind', [NoTelemetry, MeasuredPeriod]);
export type ImpactPeriod = z.infer<typeof ImpactPeriod>;

/**
 * One phase of the deployment plan:
 * - not-started: its start is in the future; nothing is measured.
 * - running: measured from its start up to now.
 * - done: measured from its start to its end (an end is inclusive: the last millisecond of the phase).
 * A phase without a start has been under way since the task opened (server/domain/plan.ts, and the timeline draws
 * it so): it is measured from openedAt.
 */
export const PhaseImpact = z.discriminatedUnion('state', [
  z.object({ state: z.literal('not-started'), title: z.string(), startsAt: Instant }),
  z.object({ state: z.literal('running'), title: z.string(), during: ImpactPeriod }),
  z.object({ state: z.literal('done'), title: z.string(), during: ImpactPeriod }),
]);
export type PhaseImpact = z.infer<typeof PhaseImpact>;

/** A task's report; the task has one only when its section is the one the MX nodes report for and it has phases. */
export const TaskImpact = z.object({
  taskId: z.number().int(),
  openedAt: Instant,
  /** When the report was computed: a running phase is measured up to here. */
  now: Instant,
  weekBefore: ImpactPeriod,
  phases: z.array(PhaseImpact).min(1),
});
export type TaskImpact = z.infer<typeof TaskImpact>;
