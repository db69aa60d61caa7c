// The quarantine index's retention: copies that left the quarantine (released, or purged on their node) are kept in
// the index for a while, so staff can look up what happened to a message, then deleted with their resolved actions.
// Held copies are never pruned here: their node's own retention purges them, and its event moves them out first.
import type { ServerDeps } from '../deps.ts';
import { pruneQuarantineIndex } from '../store/quarantine.ts';

export const DEFAULT_QUARANTINE_INDEX_RETENTION_MS = 90 * 86_400_000;
/** Rows per transaction: the write lock is never held for long on the backend's one thread. */
const STEP = 500;
/** Steps per run: a first run after a long pause leaves the rest for the next hour. */
const MAX_STEPS = 20;

/** One run: deletes index rows that left the quarantine more than `retentionMs` ago; returns how many. */
export function runQuarantineIndexPrune(deps: Pick<ServerDeps, 'db' | 'clock' | 'log'>, retentionMs: number): number {
  const before = deps.clock().getTime() - retentionMs;
  let total = 0;
  for (let step = 0; step < MAX_STEPS; step++) {
    const n = deps.db.transaction(() => pruneQuarantineIndex(deps.db, before, STEP)).immediate();
    total += n;
    if (n < STEP) break;
  }
  if (total > 0) deps.log.info({ pruned: total, retentionMs }, 'quarantine index: pruned copies past retention');
  return total;
}
