// The charts of a section's mail telemetry on /section/<slug> (issue 10): what the page renders, what the JSON API
// behind the charts returns. Owned by the charts work; filled in there.
import { z } from 'zod';

/** The ranges a visitor can pick (links that work without JavaScript). */
export const CHART_RANGES = ['24h', '7d', '30d'] as const;
export const ChartRange = z.enum(CHART_RANGES);
export type ChartRange = z.infer<typeof ChartRange>;

/** Placeholder shape until the charts work defines it. */
export const SectionCharts = z.object({ range: ChartRange });
export type SectionCharts = z.infer<typeof SectionCharts>;
