// The shadow report's retention: day counts of days wholly older than TIDINGS_SHADOW_REPORT_RETENTION, and samples
// recorded before it, are deleted in small steps (server/jobs/prune-steps.ts).
import type { ServerDeps } from '../deps.ts';
import { pruneInSteps } from './prune-steps.ts';
import { dayOf, pruneShadowReport } from '../store/shadow.ts';

export const DEFAULT_SHADOW_REPORT_RETENTION_MS = 30 * 86_400_000;

/** One run: deletes what is past `retentionMs`; returns how many rows. */
export function runShadowReportPrune(deps: Pick<ServerDeps, 'db' | 'clock' | 'log'>, retentionMs: number): number {
  const before = deps.clock().getTime() - retentionMs;
  const total = pruneInSteps(deps.db, (limit) => pruneShadowReport(deps.db, dayOf(before), before, limit));
  if (total > 0) deps.log.info({ pruned: total, retentionMs }, 'shadow report: pruned rows past retention');
  return total;
}
