// The shape every retention job shares: delete in small transactions, and only so many of them per run.
import type { DB } from '#data/db.ts';

/** Rows per transaction: the write lock is never held for long on the backend's one thread. */
const STEP = 500;
/** Steps per run: a first run after a long pause leaves the rest for the next hour. */
const MAX_STEPS = 20;

/**
 * Runs `step(limit)` in its own immediate transaction until it deletes fewer than `limit` rows or MAX_STEPS have run;
 * returns the rows deleted in all.
 */
export function pruneInSteps(db: DB, step: (limit: number) => number): number {
  let total = 0;
  for (let i = 0; i < MAX_STEPS; i++) {
    const n = db.transaction(() => step(STEP)).immediate();
    total += n;
    if (n < STEP) break;
  }
  return total;
}
