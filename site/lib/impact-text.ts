// The words of a task's impact report (site/components/ImpactReport.astro): counts, delays and periods as a customer
// reads them. Unknown stays unknown: a loss that was not measured or a delay with nothing delivered is said in words.
import type { Accounting } from '#data/contracts/telemetry-accounting.ts';
import type { ImpactPeriod, MeasuredPeriod } from '#data/contracts/telemetry-impact.ts';
import { formatShort } from './format.ts';

const COUNT = new Intl.NumberFormat('en-GB');

/** "41,220". */
export function formatCount(n: number): string {
  return COUNT.format(n);
}

/** `tenths` tenths of a unit, "1.8" or "2" (no trailing ".0"). */
const tenths = (n: number): string => (n % 10 === 0 ? String(n / 10) : (n / 10).toFixed(1));

/**
 * A delay that is an upper bound, rounded UP to what is shown, so "≤ 1.8 s" stays true: 562 ms, 1.8 s, 18 s,
 * 1.7 min, 17 min, 1.4 h, 12 h, 3.7 days. Integer arithmetic on whole milliseconds, so no float rounds a bound down.
 */
export function formatDelay(ms: number): string {
  const m = Math.ceil(ms);
  if (m < 1_000) return `${m} ms`;
  if (m < 10_000) return `${tenths(Math.ceil(m / 100))} s`;
  if (m < 60_000) return `${Math.ceil(m / 1_000)} s`;
  if (m < 600_000) return `${tenths(Math.ceil(m / 6_000))} min`;
  if (m < 3_600_000) return `${Math.ceil(m / 60_000)} min`;
  if (m < 36_000_000) return `${tenths(Math.ceil(m / 360_000))} h`;
  if (m < 172_800_000) return `${Math.ceil(m / 3_600_000)} h`;
  return `${tenths(Math.ceil(m / 8_640_000))} days`;
}

/** "p95 delay ≤ 1.8 s"; in words when nothing was delivered. */
export function p95Text(p: MeasuredPeriod): string {
  if (p.p95DelayMs === null) return 'no message delivered, so no delay to measure';
  return p.p95DelayOverflow ? `p95 delay over ${formatDelay(p.p95DelayMs)}` : `p95 delay ≤ ${formatDelay(p.p95DelayMs)}`;
}

/** "0 lost"; "loss not measured" when the accounting line has no answer (never a made-up zero). */
export function lostText(p: MeasuredPeriod): string {
  if (p.lost === null) return 'loss not measured';
  if (p.lost < 0) return `the count does not balance (${formatCount(-p.lost)} more outcomes than accepted deliveries)`;
  return `${formatCount(p.lost)} lost`;
}

/** "41,220 messages accepted, 0 lost, p95 delay ≤ 2.1 s". */
export function measuredText(p: MeasuredPeriod): string {
  const accepted = `${formatCount(p.acceptedMessages)} ${p.acceptedMessages === 1 ? 'message' : 'messages'} accepted`;
  return `${accepted}, ${lostText(p)}, ${p95Text(p)}`;
}

export const NO_TELEMETRY = 'No telemetry for this period.';

/** What a phase's sentence puts in brackets about the week before: its p95, or why there is none. */
export function weekBeforeP95(p: ImpactPeriod): string {
  if (p.kind === 'no-telemetry') return 'the week before: no telemetry';
  if (p.p95DelayMs === null) return 'the week before: nothing delivered';
  return `the week before: ${p.p95DelayOverflow ? 'over' : '≤'} ${formatDelay(p.p95DelayMs)}`;
}

/** "Telemetry covers only 2026-01-15 10:30 GMT to 2026-01-15 12:00 GMT of this period." when reports miss an end. */
export function coverageText(p: ImpactPeriod, tz: string): string | null {
  if (p.kind !== 'measured' || !p.partial) return null;
  return `Telemetry covers only ${formatShort(p.reportedFrom, tz)} to ${formatShort(p.reportedTo, tz)} of this period.`;
}

/**
 * The accounting line in deliveries: "In deliveries (one per recipient): 2 waiting at the start + 3 accepted = 4
 * delivered + 0 bounced + 0 quarantined + 0 discarded + 0 still waiting + 1 lost." Delivery status notices the
 * servers sent and copies staff released from quarantine are terms of their own only when there were any. Null when the line has no loss figure.
 */
export function accountingText(a: Accounting): string | null {
  if (a.queued === null || a.unaccounted === null) return null;
  const n = formatCount;
  const inflow = [`${n(a.carriedIn)} waiting at the start`, `${n(a.accepted)} accepted`];
  if (a.dsn > 0) inflow.push(`${n(a.dsn)} delivery status ${a.dsn === 1 ? 'notice' : 'notices'} we sent`);
  if (a.released > 0) inflow.push(`${n(a.released)} released from quarantine`);
  const outflow = [
    `${n(a.delivered)} delivered`,
    `${n(a.bounced)} bounced`,
    `${n(a.quarantined)} quarantined`,
    `${n(a.discarded)} discarded`,
    `${n(a.queued)} still waiting`,
  ];
  // A line that does not balance the other way round (more out than in) says so rather than "-3 lost".
  const rest = a.unaccounted < 0 ? `${n(-a.unaccounted)} more than came in` : `${n(a.unaccounted)} lost`;
  return `In deliveries (one per recipient): ${inflow.join(' + ')} = ${outflow.join(' + ')} + ${rest}.`;
}
