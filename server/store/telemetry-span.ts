// SQL of where the nodes' reports lie in time: the first and last bucket holding an event count or a heartbeat's gauges.
import type { DB } from '#data/db.ts';
import { LEVELS, type BucketRange, type Granularity } from './telemetry-rollups.ts';

/**
 * The earliest and latest bucket start, among the buckets of one granularity in the range, that hold an event
 * count or a gauge reading (every heartbeat leaves one); null when none does. Latency rows go with a 'delivered'
 * count of the same bucket, so the counts and gauges tables are enough.
 */
export function reportSpanAt(db: DB, g: Granularity, range: BucketRange): { first: number; last: number } | null {
  const { col, counts, gauges } = LEVELS[g];
  const params: Record<string, number> = { from: range.from, to: range.to };
  let sql = `${col} >= @from AND ${col} < @to`;
  if (range.nodeId !== undefined) {
    sql += ' AND node_id = @nodeId';
    params.nodeId = range.nodeId;
  }
  if (range.rolledOnly) sql += ' AND hour NOT IN (SELECT hour FROM telemetry_dirty_hours)';
  const r = db
    .prepare(`SELECT min(first) AS first, max(last) AS last FROM (
                SELECT min(${col}) AS first, max(${col}) AS last FROM ${counts} WHERE ${sql}
                UNION ALL
                SELECT min(${col}), max(${col}) FROM ${gauges} WHERE ${sql})`)
    .get(params) as { first: number | null; last: number | null };
  return r.first === null || r.last === null ? null : { first: r.first, last: r.last };
}
