// The data tables beside the section page's telemetry charts (site/components/charts/TelemetryCharts.astro), as a test
// reads them from the server-rendered HTML.
import assert from 'node:assert/strict';
import { decodeEntities, visibleText } from './html-text.ts';

/**
 * The cells of one row of a chart's table: the table whose caption starts with `caption`, the row whose interval starts
 * at `from`; each cell by its data-k, and the row header's visible text as `label`.
 */
export function chartTableRow(html: string, caption: string, from: string): Record<string, string> {
  const table = new RegExp(`<table>\\s*<caption>${caption}[\\s\\S]*?</table>`).exec(html)?.[0];
  assert.ok(table, `a table captioned "${caption}..."`);
  const tr = new RegExp(`<tr data-from="${from}">([\\s\\S]*?)</tr>`).exec(table)?.[1];
  assert.ok(tr, `${caption}: a row for ${from}`);
  const cells: Record<string, string> = {};
  for (const m of tr.matchAll(/<td data-k="([^"]+)"[^>]*>([\s\S]*?)<\/td>/g)) cells[m[1]] = decodeEntities(m[2]);
  cells.label = visibleText(/<th scope="row">([\s\S]*?)<\/th>/.exec(tr)?.[1] ?? '');
  return cells;
}
