// The shadow report's retention: day counts of days wholly older than TIDINGS_SHADOW_REPORT_RETENTION, and samples
// recorded before it, are deleted in small steps (as server/jobs/quarantine-index-prune.ts does).
import type { ServerDeps } from '../deps.ts';
import { dayOf, pruneShadowReport } from '../store/shadow.ts';

export const DEFAULT_SHADOW_REPORT_RETENTION_MS = 30 * 86_400_000;
/** Rows per table per transaction: the write lock is never held for long on the backend's one thread. */
const STEP = 500;
/** Steps per run: a first run after a long pause leaves the rest for the next hour. */
const MAX_STEPS = 20;

/** One run: deletes what is past `retentionMs`; returns how many rows. */
export function runShadowReportPrune(deps: Pick<ServerDeps, 'db' | 'clock' | 'log'>, retentionMs: number): number {
  const before = deps.clock().getTime() - retentionMs;
  let total = 0;
  for (let step = 0; step < MAX_STEPS; step++) {
    const n = deps.db.transaction(() => pruneShadowReport(deps.db, dayOf(before), before, STEP)).immediate();
    total += n;
    if (n < STEP) break;
  }
  if (total > 0) deps.log.info({ pruned: total, retentionMs }, 'shadow report: pruned rows past retention');
  return total;
}
