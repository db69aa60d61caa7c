// The telemetry rollup job: rolls closed minutes into hours and closed hours into days, then prunes minutes and hours
// past their retention. Idempotent: see data/migrations/backend/007_telemetry_rollups.sql for why.
import type { ServerDeps } from '../deps.ts';
import { HOUR_MS } from '../store/telemetry.ts';
import { DAY_MS, dirtyPeriods, oldestSourceRow, prunedBefore, pruneSource, rollIfDirty } from '../store/telemetry-rollups.ts';

export type RollupDeps = Pick<ServerDeps, 'db' | 'clock' | 'log'>;

export interface RollupOptions {
  /** Minute rows older than this are deleted (default 14 days); their hours stay. */
  minutesMs: number;
  /** Hour rows older than this are deleted (default 400 days); their days stay, days are kept. */
  hoursMs: number;
  /**
   * Work per run, in ms of wall time (default 200): the job runs on the backend's one thread, so a long catch-up (the
   * first run after an upgrade, a long backlog, a shortened retention) is spread over several minutes' runs instead of
   * stalling requests. At least one period or pruning step is done per run.
   */
  budgetMs?: number;
}

export const DEFAULT_ROLLUP: RollupOptions = { minutesMs: 14 * DAY_MS, hoursMs: 400 * DAY_MS };
const DEFAULT_BUDGET_MS = 200;
/** Most source rows' worth of time one pruning transaction deletes: 6 hours of minutes, 7 days of hours. */
const PRUNE_STEP = { hour: 6 * HOUR_MS, day: 7 * DAY_MS } as const;

export interface RollupRun {
  /** Hours and days (re-)rolled by this run. */
  hours: number;
  days: number;
  /** Rows deleted from the minute and hour tables. */
  prunedMinuteRows: number;
  prunedHourRows: number;
  /** False when the budget ran out first: the rest is left for the next run. */
  done: boolean;
}

/**
 * One pass: every marked hour that has ended is rolled, then every marked day that has ended, each period in its own
 * immediate transaction (the write lock is never held for long, and a crash leaves the rest marked for the next run);
 * then, once nothing ended is left unrolled, minutes and hours are pruned to hour and day boundaries in bounded steps.
 * Safe to call any number of times, from any number of processes: a period is rolled only while it is marked, and
 * re-rolling one writes the same rows.
 */
export function runTelemetryRollup(deps: RollupDeps, opts: RollupOptions = DEFAULT_ROLLUP): RollupRun {
  const { db } = deps;
  const now = deps.clock().getTime();
  const started = performance.now();
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  let steps = 0;
  // Checked before each step but the first: every run makes progress.
  const outOfBudget = () => steps++ > 0 && performance.now() - started >= budgetMs;
  const run: RollupRun = { hours: 0, days: 0, prunedMinuteRows: 0, prunedHourRows: 0, done: false };
  const finish = (done: boolean): RollupRun => {
    run.done = done;
    if (run.hours + run.days + run.prunedMinuteRows + run.prunedHourRows > 0) deps.log.info({ ...run }, 'telemetry rolled up');
    return run;
  };

  // An hour has ended once now >= start + 1 h: dirtyPeriods takes starts before now - 1 h + 1 ms.
  for (const hour of dirtyPeriods(db, 'hour', now - HOUR_MS + 1)) {
    if (outOfBudget()) return finish(false);
    if (db.transaction(() => rollIfDirty(db, 'hour', hour)).immediate()) run.hours++;
  }
  for (const day of dirtyPeriods(db, 'day', now - DAY_MS + 1)) {
    if (outOfBudget()) return finish(false);
    if (db.transaction(() => rollIfDirty(db, 'day', day)).immediate()) run.days++;
  }

  const pruneTo = (level: 'hour' | 'day', target: number): boolean => {
    const source = level === 'hour' ? 'minutes' : 'hours';
    for (;;) {
      const watermark = prunedBefore(db, source);
      if (target <= watermark) return true;
      if (outOfBudget()) return false;
      const unit = level === 'hour' ? HOUR_MS : DAY_MS;
      const oldest = oldestSourceRow(db, level);
      const next =
        oldest === null || oldest >= target ? target : Math.min(target, Math.max(watermark, floorTo(oldest, unit)) + PRUNE_STEP[level]);
      const deleted = db.transaction(() => pruneSource(db, level, next)).immediate();
      if (level === 'hour') run.prunedMinuteRows += deleted;
      else run.prunedHourRows += deleted;
    }
  };
  if (!pruneTo('hour', Math.max(0, floorTo(now - opts.minutesMs, HOUR_MS)))) return finish(false);
  // Hours are never pruned past the minutes (hours' watermark <= minutes' watermark): below the hours' watermark, a
  // reader adds the days to what is left of hours and minutes, which must then be late rows only.
  const hoursTarget = Math.min(floorTo(now - opts.hoursMs, DAY_MS), floorTo(prunedBefore(db, 'minutes'), DAY_MS));
  return finish(pruneTo('day', Math.max(0, hoursTarget)));
}

const floorTo = (at: number, ms: number): number => at - (((at % ms) + ms) % ms);
