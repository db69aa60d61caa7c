// SQL of where the nodes' reports lie in time: the first and last bucket holding an event count or a heartbeat's gauges.
import type { DB } from '#data/db.ts';
import { LEVELS, type Granularity } from './telemetry-rollups.ts';

/**
 * The earliest and latest start of a bucket of one granularity in [from, to) that holds an event count or a gauge
 * reading (every heartbeat leaves one); null when none does. Latency rows go with a 'delivered' count of the same
 * bucket, so the counts and gauges tables are enough. Each bound is one index seek: the counts by their bucket index,
 * the gauges per node by their primary key (node_id, bucket), so a week of minutes costs no scan.
 */
export function reportSpanAt(db: DB, g: Granularity, range: { from: number; to: number }): { first: number; last: number } | null {
  const { col, counts, gauges } = LEVELS[g];
  const inRange = `${col} >= @from AND ${col} < @to`;
  const perNode = (fn: 'min' | 'max') =>
    `SELECT ${fn}((SELECT ${fn}(${col}) FROM ${gauges} WHERE node_id = n.id AND ${inRange})) FROM mx_nodes n`;
  const r = db
    .prepare(`SELECT
                (SELECT min(${col}) FROM ${counts} WHERE ${inRange}) AS countsFirst,
                (SELECT max(${col}) FROM ${counts} WHERE ${inRange}) AS countsLast,
                (${perNode('min')}) AS gaugesFirst,
                (${perNode('max')}) AS gaugesLast`)
    .get({ from: range.from, to: range.to }) as {
    countsFirst: number | null;
    countsLast: number | null;
    gaugesFirst: number | null;
    gaugesLast: number | null;
  };
  const firsts = [r.countsFirst, r.gaugesFirst].filter((v): v is number => v !== null);
  const lasts = [r.countsLast, r.gaugesLast].filter((v): v is number => v !== null);
  return firsts.length === 0 ? null : { first: Math.min(...firsts), last: Math.max(...lasts) };
}
