// The telemetry verdict of the section the MX nodes report for (issue 10, "the light follows the mail system").
import type { TelemetryHealthConfig } from '#data/config.ts';
import { STATE_LEGEND } from '#data/contracts/states.ts';
import { LATENCY_BUCKETS_MS, latencyQuantile } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { TelemetryVerdict } from '../../domain/section-state.ts';
import { MINUTE_MS, minuteOf, latestHeartbeats } from '../../store/telemetry.ts';
import { telemetrySummary } from './summary.ts';

export interface TelemetryHealth {
  /** null: the rules see nothing wrong (or no node ever reported), and the tasks give the state. */
  verdict: TelemetryVerdict | null;
  /** The next instant this evaluation can change with no new data (a heartbeat going stale, a backlog ageing past the
   * threshold, the next whole minute entering the window); null when nothing would change on its own. */
  nextChange: Date | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const minutes = (ms: number) => `${+(ms / MINUTE_MS).toFixed(2)} min`;

/**
 * The rules, over all nodes together:
 * - No node has ever sent a heartbeat: null (a site without MX nodes keeps the tasks' state).
 * - The freshest heartbeat is `staleAfterMs` old or older: unknown, from that instant on.
 * - A fresh node's oldest queued delivery (its reported age plus the time since that heartbeat) is older than
 *   `oldestQueuedMs`: issues. Stale nodes' last backlog is not believed.
 * - Over the last `p95SustainMs` of whole minutes (the current partial minute excluded): the p95 accept-to-delivery
 *   latency is known to exceed `p95ThresholdMs` (the histogram bucket it falls in starts at or above the threshold, so
 *   a coarse bucket never raises a false alarm), or deferred / (delivered + deferred) exceeds `tempfailRatio`: issues.
 */
export function evaluateTelemetryHealth(db: DB, now: Date, cfg: TelemetryHealthConfig): TelemetryHealth {
  const nodes = latestHeartbeats(db);
  if (nodes.length === 0) return { verdict: null, nextChange: null };
  const t = now.getTime();
  const freshest = Math.max(...nodes.map((n) => n.receivedAt));
  const staleAt = freshest + cfg.staleAfterMs;
  if (t >= staleAt)
    return {
      verdict: {
        state: 'unknown',
        // A duration, not an instant: the reason is shown as stored, next to the change's time in the reader's time zone.
        reason: `${STATE_LEGEND.unknown}: no heartbeat from any mail node for ${minutes(cfg.staleAfterMs)}`,
        at: iso(staleAt),
      },
      nextChange: null,
    };

  let next = minuteOf(t) + MINUTE_MS;
  const consider = (x: number) => {
    if (x > t && x < next) next = x;
  };
  const reasons: string[] = [];
  let at = 0;
  for (const n of nodes) {
    const nodeStaleAt = n.receivedAt + cfg.staleAfterMs;
    if (t >= nodeStaleAt) continue;
    consider(nodeStaleAt);
    if (n.oldestQueuedMs === null) continue;
    // "Older than": one millisecond past the threshold.
    const crossAt = n.receivedAt + cfg.oldestQueuedMs - n.oldestQueuedMs + 1;
    if (t >= crossAt) {
      reasons.push(`the oldest queued delivery on ${n.nodeName} is older than ${minutes(cfg.oldestQueuedMs)}`);
      at = Math.max(at, Math.max(crossAt, n.receivedAt));
    } else consider(crossAt);
  }

  const to = minuteOf(t);
  const s = telemetrySummary(db, { from: to - cfg.p95SustainMs, to }, now);
  const p95 = latencyQuantile(s.latency, 0.95);
  if (p95 !== null) {
    const i = p95 === Number.POSITIVE_INFINITY ? LATENCY_BUCKETS_MS.length : LATENCY_BUCKETS_MS.indexOf(p95);
    const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
    if (lower >= cfg.p95ThresholdMs) {
      reasons.push(`p95 delivery delay over ${minutes(cfg.p95ThresholdMs)} for the last ${minutes(cfg.p95SustainMs)}`);
      at = Math.max(at, to);
    }
  }
  let delivered = 0;
  let deferred = 0;
  for (const o of s.outcomes) {
    if (o.outcome === 'delivered') delivered += o.count;
    else if (o.outcome === 'deferred') deferred += o.count;
  }
  if (deferred > 0 && deferred / (delivered + deferred) > cfg.tempfailRatio) {
    const pct = ((100 * deferred) / (delivered + deferred)).toFixed(1);
    reasons.push(`${pct} % of delivery attempts deferred in the last ${minutes(cfg.p95SustainMs)}`);
    at = Math.max(at, to);
  }
  return {
    verdict: reasons.length > 0 ? { state: 'issues', reason: reasons.join('; '), at: iso(at) } : null,
    nextChange: new Date(next),
  };
}

/**
 * The snapshot's telemetry signals for the section `sectionSlug` (TIDINGS_TELEMETRY_SECTION): its verdict, and the
 * instant the verdict changes by itself. `telemetry` evaluates afresh (data may change while the clock stands still);
 * `telemetryBoundary` reuses the evaluation of the `telemetry` call just before it at the same instant, as the snapshot
 * build calls them, so a build reads the database once.
 */
export function telemetryHealthSignals(
  db: DB,
  sectionSlug: string,
  cfg: TelemetryHealthConfig,
): { telemetry: (slug: string, now: Date) => TelemetryVerdict | null; telemetryBoundary: (slug: string, now: Date) => Date | null } {
  let last: { at: number; health: TelemetryHealth } | null = null;
  return {
    telemetry: (slug, now) => {
      if (slug !== sectionSlug) return null;
      last = { at: now.getTime(), health: evaluateTelemetryHealth(db, now, cfg) };
      return last.health.verdict;
    },
    telemetryBoundary: (slug, now) => {
      if (slug !== sectionSlug) return null;
      const health = last?.at === now.getTime() ? last.health : evaluateTelemetryHealth(db, now, cfg);
      last = null;
      return health.nextChange;
    },
  };
}
