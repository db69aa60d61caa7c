// WCAG 2.x for the telemetry charts, light and dark: every series colour reads at 3:1 or better on the page background
// (1.4.11, graphical objects), the chart text at 4.5:1 (1.4.3) on the background and on a phase band's fill, and the
// palette's background and text are site/styles/site.css's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blend, CHART_PALETTES } from '../../site/lib/charts-palette.ts';

const CSS = readFileSync(join(import.meta.dirname, '..', '..', 'site', 'styles', 'site.css'), 'utf8');

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
/** A custom property of the light (first :root) or the dark (prefers-color-scheme) block. */
function cssVar(name: string, scheme: 'light' | 'dark'): string {
  const dark = /@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}/.exec(CSS)?.[1] ?? '';
  const light = /:root\s*\{([^}]*)\}/.exec(CSS)?.[1] ?? '';
  const find = (block: string) => new RegExp(`--${name}\\s*:\\s*([^;}]+)`).exec(block)?.[1].trim();
  const v = (scheme === 'dark' ? find(dark) : undefined) ?? find(light);
  assert.ok(v, `--${name} in site.css (${scheme})`);
  return v.toLowerCase().replace(/^#fff$/, '#ffffff');
}

for (const scheme of ['light', 'dark'] as const) {
  const p = CHART_PALETTES[scheme];
  test(`${scheme}: the palette's background, text and grid are the page's`, () => {
    assert.equal(p.bg, cssVar('bg', scheme));
    assert.equal(p.text, cssVar('fg', scheme));
    assert.equal(p.muted, cssVar('muted', scheme));
    assert.equal(p.grid, cssVar('line', scheme));
  });

  test(`${scheme}: series at 3:1 on the background, text at 4.5:1 on it and on a band`, () => {
    const series = {
      delivered: p.delivered,
      deferred: p.deferred,
      bounced: p.bounced,
      quarantined: p.quarantined,
      discarded: p.discarded,
      systemNew: p.systemNew,
      systemLegacy: p.systemLegacy,
      p50: p.p50,
      p95: p.p95,
      depth: p.depth,
      oldest: p.oldest,
      band: p.band,
      ...Object.fromEntries(p.rejected.map((c, i) => [`rejected ${i}`, c])),
    };
    for (const [name, colour] of Object.entries(series))
      assert.ok(contrast(colour, p.bg) >= 3, `${name} ${colour} on ${p.bg}: ${contrast(colour, p.bg).toFixed(2)}`);
    const band = blend(p.band, p.bandAlpha, p.bg);
    for (const [name, colour] of Object.entries({ text: p.text, muted: p.muted })) {
      assert.ok(contrast(colour, p.bg) >= 4.5, `${name} on the background: ${contrast(colour, p.bg).toFixed(2)}`);
      assert.ok(contrast(colour, band) >= 4.5, `${name} on a band ${band}: ${contrast(colour, band).toFixed(2)}`);
    }
    // Stacked neighbours differ: no two outcome colours are the same.
    const stack = [p.delivered, p.deferred, p.bounced, p.quarantined, p.discarded, ...p.rejected];
    assert.equal(new Set(stack).size, stack.length);
    assert.notEqual(p.systemNew, p.systemLegacy, 'the two mail systems differ');
  });
}

test('blend puts a colour at an opacity over a background', () => {
  assert.equal(blend('#000000', 0.5, '#ffffff'), '#808080');
  assert.equal(blend('#0969da', 0, '#ffffff'), '#ffffff');
  assert.equal(blend('#0969da', 1, '#ffffff'), '#0969da');
});
