// SQL of the telemetry rollups: minutes rolled into hours, hours into days, pruning watermarks, and sums per granularity.
// Why rolling is exact and idempotent, and what the watermarks mean: data/migrations/backend/007_telemetry_rollups.sql.
import type { DB } from '#data/db.ts';
import type { RouteKind, TelemetryEventType } from '#data/contracts/telemetry.ts';
import { HOUR_MS, MINUTE_MS } from './telemetry.ts';

export const DAY_MS = 86_400_000;
export const dayOf = (at: number): number => at - (at % DAY_MS);

export type Granularity = 'minute' | 'hour' | 'day';

interface Level {
  /** The bucket column and its length. */
  col: string;
  ms: number;
  counts: string;
  latency: string;
  gauges: string;
}

export const LEVELS: Record<Granularity, Level> = {
  minute: {
    col: 'minute',
    ms: MINUTE_MS,
    counts: 'telemetry_minutes',
    latency: 'telemetry_latency_minutes',
    gauges: 'telemetry_gauge_minutes',
  },
  hour: { col: 'hour', ms: HOUR_MS, counts: 'telemetry_hours', latency: 'telemetry_latency_hours', gauges: 'telemetry_gauge_hours' },
  day: { col: 'day', ms: DAY_MS, counts: 'telemetry_days', latency: 'telemetry_latency_days', gauges: 'telemetry_gauge_days' },
};

/** What each rolled level is rolled from. */
const SOURCE = { hour: LEVELS.minute, day: LEVELS.hour } as const;
/** The watermark that says up to where a rolled level's source was pruned. */
const SOURCE_NAME = { hour: 'minutes', day: 'hours' } as const;
const DIRTY = { hour: 'telemetry_dirty_hours', day: 'telemetry_dirty_days' } as const;

export type RolledLevel = 'hour' | 'day';

// ── watermarks ─────────────────────────────────────────────────────────────

/** The boundary below which the source's rows were pruned: only late, not yet folded rows are below it. */
export function prunedBefore(db: DB, source: 'minutes' | 'hours'): number {
  return (db.prepare('SELECT pruned_before AS p FROM telemetry_rollup_watermarks WHERE source = ?').get(source) as { p: number }).p;
}

function setPrunedBefore(db: DB, source: 'minutes' | 'hours', at: number): void {
  db.prepare('UPDATE telemetry_rollup_watermarks SET pruned_before = ? WHERE source = ?').run(at, source);
}

// ── dirty periods ──────────────────────────────────────────────────────────

/** Periods marked for rolling that started before `before`, oldest first. */
export function dirtyPeriods(db: DB, level: RolledLevel, before: number): number[] {
  const col = LEVELS[level].col;
  return (db.prepare(`SELECT ${col} AS p FROM ${DIRTY[level]} WHERE ${col} < ? ORDER BY ${col}`).all(before) as { p: number }[]).map(
    (r) => r.p,
  );
}

/** Marked hours in [from, to), oldest first. */
export function dirtyHoursIn(db: DB, from: number, to: number): number[] {
  return (
    db.prepare('SELECT hour FROM telemetry_dirty_hours WHERE hour >= ? AND hour < ? ORDER BY hour').all(from, to) as { hour: number }[]
  ).map((r) => r.hour);
}

function isDirty(db: DB, level: RolledLevel, start: number): boolean {
  const col = LEVELS[level].col;
  return db.prepare(`SELECT 1 FROM ${DIRTY[level]} WHERE ${col} = ?`).get(start) !== undefined;
}

// ── rolling ────────────────────────────────────────────────────────────────

/**
 * Rolls one period (an hour from its minutes, a day from its hours); the caller holds the transaction. Above the
 * source's pruning watermark the period is recomputed (its rows deleted and re-summed), so rolling it again gives the
 * same rows. Below it the source was pruned after the period was rolled, and what is left of the source is a late
 * backlog: it is added to the period's rows and deleted. Clears the period's mark and marks the enclosing day.
 */
export function rollPeriod(db: DB, level: RolledLevel, start: number): void {
  const to = LEVELS[level];
  const from = SOURCE[level];
  const range = { start, end: start + to.ms };
  const inSource = `${from.col} >= @start AND ${from.col} < @end`;
  const fold = start < prunedBefore(db, SOURCE_NAME[level]);
  if (!fold) {
    for (const table of [to.counts, to.latency, to.gauges]) db.prepare(`DELETE FROM ${table} WHERE ${to.col} = ?`).run(start);
  }
  const add = (key: string) => (fold ? `ON CONFLICT(${key}) DO UPDATE SET count = count + excluded.count` : '');
  db.prepare(`INSERT INTO ${to.counts} (node_id, ${to.col}, route, outcome, reason, count)
              SELECT node_id, @start, route, outcome, reason, sum(count) FROM ${from.counts} WHERE ${inSource}
              GROUP BY node_id, route, outcome, reason
              ${add(`node_id, ${to.col}, route, outcome, reason`)}`).run(range);
  db.prepare(`INSERT INTO ${to.latency} (node_id, ${to.col}, route, bucket, count)
              SELECT node_id, @start, route, bucket, sum(count) FROM ${from.latency} WHERE ${inSource}
              GROUP BY node_id, route, bucket
              ${add(`node_id, ${to.col}, route, bucket`)}`).run(range);
  db.prepare(`INSERT INTO ${to.gauges} (node_id, ${to.col}, queue_depth_max, oldest_queued_ms_max, in_retry_max)
              SELECT node_id, @start, max(queue_depth_max), max(oldest_queued_ms_max), max(in_retry_max) FROM ${from.gauges}
              WHERE ${inSource} GROUP BY node_id
              ${
                fold
                  ? `ON CONFLICT(node_id, ${to.col}) DO UPDATE SET
                       queue_depth_max = max(queue_depth_max, excluded.queue_depth_max),
                       oldest_queued_ms_max = nullif(max(ifnull(oldest_queued_ms_max, -1), ifnull(excluded.oldest_queued_ms_max, -1)), -1),
                       in_retry_max = max(in_retry_max, excluded.in_retry_max)`
                  : ''
              }`).run(range);
  if (fold) {
    for (const table of [from.counts, from.latency, from.gauges]) db.prepare(`DELETE FROM ${table} WHERE ${inSource}`).run(range);
  }
  db.prepare(`DELETE FROM ${DIRTY[level]} WHERE ${to.col} = ?`).run(start);
  if (level === 'hour') db.prepare('INSERT OR IGNORE INTO telemetry_dirty_days (day) VALUES (?)').run(dayOf(start));
}

/** Rolls the period if it is still marked (another run may have rolled it meanwhile); true if it did. */
export function rollIfDirty(db: DB, level: RolledLevel, start: number): boolean {
  if (!isDirty(db, level, start)) return false;
  rollPeriod(db, level, start);
  return true;
}

// ── pruning ────────────────────────────────────────────────────────────────

/** The oldest bucket start in the source tables of `level` (minutes for 'hour', hours for 'day'); null when empty. */
export function oldestSourceRow(db: DB, level: RolledLevel): number | null {
  const from = SOURCE[level];
  const mins = [from.counts, from.latency, from.gauges].map(
    (table) => (db.prepare(`SELECT min(${from.col}) AS m FROM ${table}`).get() as { m: number | null }).m,
  );
  const present = mins.filter((m): m is number => m !== null);
  return present.length === 0 ? null : Math.min(...present);
}

/**
 * Deletes the source rows of `level` (minutes for 'hour', hours for 'day') below `before` (aligned to `level`), after
 * rolling every marked period below it, so no row is deleted before it is counted in the level above; then moves the
 * watermark. The caller holds the transaction. Returns the rows deleted, or 0 when the watermark is already there.
 */
export function pruneSource(db: DB, level: RolledLevel, before: number): number {
  if (before % LEVELS[level].ms !== 0) throw new Error(`prune boundary ${before} is not aligned to a ${level}`);
  if (before <= prunedBefore(db, SOURCE_NAME[level])) return 0;
  // Late minutes below the boundary sit in marked hours; pruning hours must fold them in first, then the days.
  for (const hour of dirtyPeriods(db, 'hour', before)) rollPeriod(db, 'hour', hour);
  if (level === 'day') for (const day of dirtyPeriods(db, 'day', before)) rollPeriod(db, 'day', day);
  const from = SOURCE[level];
  let deleted = 0;
  for (const table of [from.counts, from.latency, from.gauges])
    deleted += db.prepare(`DELETE FROM ${table} WHERE ${from.col} < ?`).run(before).changes;
  setPrunedBefore(db, SOURCE_NAME[level], before);
  return deleted;
}

// ── reading one granularity ────────────────────────────────────────────────

/** Buckets of a granularity whose start is in [from, to), for one node or all. */
export interface BucketRange {
  from: number;
  to: number;
  nodeId?: number;
  /** Only hours that are rolled: not marked, so their rows are the sum of their minutes (hours only). */
  rolledOnly?: boolean;
}

/** The WHERE clause and parameters of a range over one granularity's bucket column. */
function where(g: Granularity, range: BucketRange): { sql: string; params: Record<string, number> } {
  const col = LEVELS[g].col;
  const params: Record<string, number> = { from: range.from, to: range.to };
  let sql = `${col} >= @from AND ${col} < @to`;
  if (range.nodeId !== undefined) {
    sql += ' AND node_id = @nodeId';
    params.nodeId = range.nodeId;
  }
  if (range.rolledOnly) {
    if (g !== 'hour') throw new Error('rolledOnly reads hours');
    sql += ' AND hour NOT IN (SELECT hour FROM telemetry_dirty_hours)';
  }
  return { sql, params };
}

export interface OutcomeSum {
  route: RouteKind | '';
  outcome: TelemetryEventType;
  reason: string;
  count: number;
}

/** Outcome counts summed over the buckets of one granularity in the range. */
export function sumOutcomesAt(db: DB, g: Granularity, range: BucketRange): OutcomeSum[] {
  const { counts } = LEVELS[g];
  const w = where(g, range);
  return db
    .prepare(`SELECT route, outcome, reason, sum(count) AS count FROM ${counts} WHERE ${w.sql}
              GROUP BY outcome, reason, route ORDER BY outcome, reason, route`)
    .all(w.params) as OutcomeSum[];
}

/** Latency bucket counts summed over the buckets of one granularity in the range, per route. */
export function sumLatencyAt(db: DB, g: Granularity, range: BucketRange): { route: RouteKind; bucket: number; count: number }[] {
  const { latency } = LEVELS[g];
  const w = where(g, range);
  return db
    .prepare(`SELECT route, bucket, sum(count) AS count FROM ${latency} WHERE ${w.sql}
              GROUP BY route, bucket ORDER BY route, bucket`)
    .all(w.params) as { route: RouteKind; bucket: number; count: number }[];
}

/**
 * Outcome counts per bucket of one granularity (for charts: messages per interval), oldest first. The series read
 * their own table only: an hour or day a backlog has just reached shows it once the job has rolled it again,
 * and so do hours below the minutes' watermark. telemetrySummary is exact at every moment.
 */
export function outcomeSeries(db: DB, g: Granularity, range: BucketRange): (OutcomeSum & { at: number })[] {
  const { col, counts } = LEVELS[g];
  const w = where(g, range);
  return db
    .prepare(`SELECT ${col} AS at, route, outcome, reason, sum(count) AS count FROM ${counts} WHERE ${w.sql}
              GROUP BY ${col}, outcome, reason, route ORDER BY ${col}, outcome, reason, route`)
    .all(w.params) as (OutcomeSum & { at: number })[];
}

/** Latency bucket counts per bucket of one granularity, all routes together, oldest first. */
export function latencySeries(db: DB, g: Granularity, range: BucketRange): { at: number; bucket: number; count: number }[] {
  const { col, latency } = LEVELS[g];
  const w = where(g, range);
  return db
    .prepare(`SELECT ${col} AS at, bucket, sum(count) AS count FROM ${latency} WHERE ${w.sql}
              GROUP BY ${col}, bucket ORDER BY ${col}, bucket`)
    .all(w.params) as { at: number; bucket: number; count: number }[];
}

/** Each node's largest gauge readings per bucket of one granularity, oldest first. */
export function gaugeSeries(
  db: DB,
  g: Granularity,
  range: BucketRange,
): { nodeId: number; at: number; queueDepthMax: number; oldestQueuedMsMax: number | null; inRetryMax: number }[] {
  const { col, gauges } = LEVELS[g];
  const w = where(g, range);
  return db
    .prepare(`SELECT node_id AS nodeId, ${col} AS at, queue_depth_max AS queueDepthMax, oldest_queued_ms_max AS oldestQueuedMsMax,
                     in_retry_max AS inRetryMax
              FROM ${gauges} WHERE ${w.sql} ORDER BY ${col}, node_id`)
    .all(w.params) as { nodeId: number; at: number; queueDepthMax: number; oldestQueuedMsMax: number | null; inRetryMax: number }[];
}
