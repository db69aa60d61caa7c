// GET /api/v1/sections/:slug/telemetry?range=24h|7d|30d: the public data behind a section's telemetry charts.
import { Hono } from 'hono';
import { CHART_RANGES, DEFAULT_CHART_RANGE, parseChartRange, type SectionTelemetryResponse } from '#data/contracts/telemetry-charts.ts';
import type { TelemetryViews } from '#data/contracts/telemetry-views.ts';
import type { ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { publicRoute } from '../http/api-access.ts';
import { badRequest, notFound } from '../http/problem.ts';
import { FILE_SECURITY } from '../http/security-headers.ts';
import { telemetryViews } from '../services/telemetry/views.ts';

/** As /status.json: a CDN may hold it briefly and keep serving it if this origin goes down. */
const HEADERS = {
  'cache-control': 'public, max-age=15, s-maxage=15, stale-while-revalidate=60, stale-if-error=86400',
  'access-control-allow-origin': '*',
  vary: 'accept-encoding',
  ...FILE_SECURITY,
} as const;

/**
 * 200 with SectionTelemetryResponse for every section (charts null for a section no MX node reports for); 404 problem
 * for an unknown section; 400 problem for a range other than 24h, 7d or 30d (absent: 24h).
 */
export function sectionTelemetryRoutes(deps: Pick<ServerDeps, 'db' | 'config' | 'clock'>, views?: TelemetryViews): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const charts = views ?? telemetryViews(deps.db, deps.config);
  app.get('/sections/:slug/telemetry', publicRoute, (c) => {
    const slug = c.req.param('slug');
    const raw = c.req.query('range');
    const range = raw === undefined ? DEFAULT_CHART_RANGE : parseChartRange(raw);
    if (range === null)
      throw badRequest(`range must be one of ${CHART_RANGES.join(', ')} (default ${DEFAULT_CHART_RANGE}).`, [
        { field: 'range', message: `"${(raw ?? '').slice(0, 40)}" is not one of ${CHART_RANGES.join(', ')}` },
      ]);
    if (deps.db.prepare('SELECT 1 FROM sections WHERE slug = ?').get(slug) === undefined)
      throw notFound(`There is no section "${slug.slice(0, 60)}".`);
    const body: SectionTelemetryResponse = { section: slug, range, charts: charts.sectionCharts(slug, range, deps.clock()) };
    return c.json(body, 200, HEADERS);
  });
  return app;
}
