// The telemetry rollup job: rolls closed minutes into hours and closed hours into days, then prunes minutes and hours
// past their retention. Idempotent: see data/migrations/backend/007_telemetry_rollups.sql for why.
import type { ServerDeps } from '../deps.ts';
import { HOUR_MS } from '../store/telemetry.ts';
import { DAY_MS, dirtyPeriods, prunedBefore, pruneSource, rollIfDirty } from '../store/telemetry-rollups.ts';

export type RollupDeps = Pick<ServerDeps, 'db' | 'clock' | 'log'>;

export interface RollupOptions {
  /** Minute rows older than this are deleted (default 14 days); their hours stay. */
  minutesMs: number;
  /** Hour rows older than this are deleted (default 400 days); their days stay, days are kept. */
  hoursMs: number;
}

export const DEFAULT_ROLLUP: RollupOptions = { minutesMs: 14 * DAY_MS, hoursMs: 400 * DAY_MS };

export interface RollupRun {
  /** Hours and days (re-)rolled by this run. */
  hours: number;
  days: number;
  /** Rows deleted from the minute and hour tables. */
  prunedMinuteRows: number;
  prunedHourRows: number;
}

/**
 * One pass: every marked hour that has ended is rolled, then every marked day that has ended, each period in its own
 * immediate transaction (a run never holds the write lock for long, and a crash leaves the rest marked for the next
 * run); then minutes and hours are pruned to hour and day boundaries. Safe to call any number of times, from any
 * number of processes: a period is rolled only while it is marked, and re-rolling one writes the same rows.
 */
export function runTelemetryRollup(deps: RollupDeps, opts: RollupOptions = DEFAULT_ROLLUP): RollupRun {
  const { db } = deps;
  const now = deps.clock().getTime();
  const run: RollupRun = { hours: 0, days: 0, prunedMinuteRows: 0, prunedHourRows: 0 };
  // An hour is closed once it has ended (now >= start + 1 h): dirtyPeriods takes starts before now - 1 h, inclusive.
  for (const hour of dirtyPeriods(db, 'hour', now - HOUR_MS + 1))
    if (db.transaction(() => rollIfDirty(db, 'hour', hour)).immediate()) run.hours++;
  for (const day of dirtyPeriods(db, 'day', now - DAY_MS + 1))
    if (db.transaction(() => rollIfDirty(db, 'day', day)).immediate()) run.days++;

  const minutesBefore = floorTo(now - opts.minutesMs, HOUR_MS);
  run.prunedMinuteRows = db.transaction(() => pruneSource(db, 'hour', Math.max(0, minutesBefore))).immediate();
  // Hours are never pruned past the minutes (hours' watermark <= minutes' watermark): below the hours' watermark, a
  // reader adds the days to what is left of hours and minutes, which must then be late rows only.
  const hoursBefore = Math.min(floorTo(now - opts.hoursMs, DAY_MS), floorTo(prunedBefore(db, 'minutes'), DAY_MS));
  run.prunedHourRows = db.transaction(() => pruneSource(db, 'day', Math.max(0, hoursBefore))).immediate();
  if (run.hours + run.days + run.prunedMinuteRows + run.prunedHourRows > 0) deps.log.info({ ...run }, 'telemetry rolled up');
  return run;
}

const floorTo = (at: number, ms: number): number => at - (((at % ms) + ms) % ms);
