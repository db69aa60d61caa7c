// The section charts' data: series over 24 h, 7 days or 30 days read from the rollups. Filled in by the charts work.
import type { ChartRange, SectionCharts } from '#data/contracts/telemetry-charts.ts';
import type { DB } from '#data/db.ts';

export function sectionCharts(_db: DB, _range: ChartRange, _now: Date): SectionCharts | null {
  return null;
}
