// The telemetry views the site's pages read (data/contracts/telemetry-views.ts), over this server's rollups.
import type { Config } from '#data/config.ts';
import type { TelemetryViews } from '#data/contracts/telemetry-views.ts';
import type { DB } from '#data/db.ts';
import { sectionCharts } from './charts.ts';
import { taskImpact } from './impact.ts';

/** The nodes report for config.telemetrySection (TIDINGS_TELEMETRY_SECTION); no other section has telemetry. */
export function telemetryViews(db: DB, config: Pick<Config, 'telemetrySection'>): TelemetryViews {
  return {
    sectionCharts: (slug, range, now) => (slug === config.telemetrySection ? sectionCharts(db, slug, range, now) : null),
    taskImpact: (taskId, now) => taskImpact(db, config.telemetrySection, taskId, now),
  };
}
