// What the server hands the site's pages besides the snapshot: read-only views of the mail telemetry, computed on
// demand for the page being rendered (the page cache keeps the result as long as the snapshot stays the same).
import type { ChartRange, SectionCharts } from './telemetry-charts.ts';
import type { TaskImpact } from './telemetry-impact.ts';

export interface TelemetryViews {
  /**
   * The charts of a section's telemetry over `range` ending at `now`; null for a section no node reports for (the nodes
   * report for one section; before any of them has reported, its charts say so with `reporting: false`).
   */
  sectionCharts(slug: string, range: ChartRange, now: Date): SectionCharts | null;
  /** The impact report of a task; null when its section has no telemetry. */
  taskImpact(taskId: number, now: Date): TaskImpact | null;
}
