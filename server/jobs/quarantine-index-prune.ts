// The quarantine index's retention: copies that left the quarantine (released, or purged on their node) are kept in
// the index for a while, so staff can look up what happened to a message, then deleted with their resolved actions.
// Held copies are never pruned here: their node's own retention purges them, and its event moves them out first.
import type { ServerDeps } from '../deps.ts';
import { pruneInSteps } from './prune-steps.ts';
import { pruneQuarantineIndex } from '../store/quarantine.ts';

export const DEFAULT_QUARANTINE_INDEX_RETENTION_MS = 90 * 86_400_000;

/** One run: deletes index rows that left the quarantine more than `retentionMs` ago; returns how many. */
export function runQuarantineIndexPrune(deps: Pick<ServerDeps, 'db' | 'clock' | 'log'>, retentionMs: number): number {
  const before = deps.clock().getTime() - retentionMs;
  const total = pruneInSteps(deps.db, (limit) => pruneQuarantineIndex(deps.db, before, limit));
  if (total > 0) deps.log.info({ pruned: total, retentionMs }, 'quarantine index: pruned copies past retention');
  return total;
}
