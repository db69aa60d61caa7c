// Flow control: when delivery falls behind, acceptance slows down instead of the delay growing without bound.
import type { FlowLimits } from '#data/config-mx.ts';
import type { DB } from '#data/db.ts';

export { DEFAULT_FLOW_LIMITS, type FlowLimits } from '#data/config-mx.ts';

/** What the worker has not started on: due deliveries without a live lease. Deferred ones wait for their retry time. */
export interface Backlog {
  depth: number;
  /** Since when the oldest waiting delivery has been due; 0 when nothing waits. */
  oldestWaitingMs: number;
}

export type FlowDecision = { kind: 'accept'; delayMs: number } | { kind: 'refuse'; backlog: Backlog };

/** How far into the soft→hard band a reading is: 0 below soft, 1 at or above hard. */
function band(value: number, soft: number, hard: number): number {
  if (value < soft) return 0;
  if (value >= hard) return 1;
  return (value - soft) / (hard - soft);
}

export function decideFlow(backlog: Backlog, limits: FlowLimits): FlowDecision {
  const load = Math.max(
    band(backlog.depth, limits.softDepth, limits.hardDepth),
    band(backlog.oldestWaitingMs, limits.softAgeMs, limits.hardAgeMs),
  );
  if (load >= 1) return { kind: 'refuse', backlog };
  return { kind: 'accept', delayMs: Math.round(load * limits.maxDelayMs) };
}

/**
 * Reads the backlog from the queue, at most once per `everyMs` (DATA replies in between share the reading), so the
 * cost stays one indexed range scan per interval whatever the message rate.
 */
export function backlogReader(db: DB, now: () => number, everyMs = 100): () => Backlog {
  const q = db.prepare(`SELECT count(*) AS depth, min(next_attempt_at) AS oldest FROM deliveries
                        WHERE state = 'queued' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until <= @now)`);
  let last: { at: number; backlog: Backlog } | null = null;
  return () => {
    const t = now();
    if (last && t - last.at < everyMs && t >= last.at) return last.backlog;
    const r = q.get({ now: t }) as { depth: number; oldest: number | null };
    last = { at: t, backlog: { depth: r.depth, oldestWaitingMs: r.oldest === null ? 0 : Math.max(0, t - r.oldest) } };
    return last.backlog;
  };
}
