// WCAG 2.x AA: every text colour of the public site reads at 4.5:1 or better on every background it is drawn on,
// in the light and the dark scheme, with the values taken from site/styles/site.css itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CSS = readFileSync(join(import.meta.dirname, '..', '..', 'site', 'styles', 'site.css'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const AA_TEXT = 4.5;

/**
 * Text colour variable -> the background variables it is drawn on (and where):
 * - bg: the page (html); panel: .sections > li cards, the .plan figure and buttons.
 */
const PAIRS: Record<string, { on: string[]; where: string }> = {
  fg: { on: ['bg', 'panel'], where: 'body text; section cards, deployment plan, buttons' },
  muted: { on: ['bg', 'panel'], where: '.muted, footer; .sections .reason and .plan .ends / phase dates on panels' },
  link: { on: ['bg', 'panel'], where: 'links in text and tables; section names in the .sections cards' },
  // State icons: the legend and section pages on the page background, the overview cards on the panel.
  ok: { on: ['bg', 'panel'], where: '.s-operational .icon' },
  ann: { on: ['bg', 'panel'], where: '.s-announcement .icon' },
  bad: { on: ['bg', 'panel'], where: '.s-issues .icon' },
  unk: { on: ['bg', 'panel'], where: '.s-unknown .icon' },
  // Phase marks ("✓ done", "▶ running", "upcoming") only inside the .plan figure.
  done: { on: ['panel'], where: '.p-done .mark' },
  run: { on: ['panel'], where: '.p-running .mark' },
  up: { on: ['panel'], where: '.p-upcoming .mark' },
};

function customProperties(block: string): Record<string, string> {
  return Object.fromEntries([...block.matchAll(/--([\w-]+)\s*:\s*([^;}]+)/g)].map((m) => [m[1], m[2].trim()]));
}

function schemes(): { light: Record<string, string>; dark: Record<string, string> } {
  const dark = /@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}/.exec(CSS);
  assert.ok(dark, 'site.css has a dark :root block');
  const light = /(?:^|\})\s*:root\s*\{([^}]*)\}/.exec(CSS.replace(dark[0], ''));
  assert.ok(light, 'site.css has a light :root block');
  return { light: customProperties(light[1]), dark: { ...customProperties(light[1]), ...customProperties(dark[1]) } };
}

function rgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex);
  assert.ok(m, `${hex} is a hex colour`);
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
}

function luminance(hex: string): number {
  const [r, g, b] = rgb(hex).map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

test('the contrast formula matches known values', () => {
  assert.equal(contrast('#000', '#fff'), 21);
  assert.equal(contrast('#777777', '#ffffff').toFixed(2), '4.48');
});

test('every text colour variable used in site.css is listed with its backgrounds', () => {
  const used = new Set([...CSS.matchAll(/(?:^|[;{])\s*color\s*:\s*var\(--([\w-]+)\)/g)].map((m) => m[1]));
  assert.ok(used.size > 0);
  for (const v of used) assert.ok(PAIRS[v], `--${v} is used as a text colour: add it to PAIRS with its backgrounds`);
});

for (const scheme of ['light', 'dark'] as const) {
  test(`${scheme} scheme: every text colour reaches ${AA_TEXT}:1 on its backgrounds`, () => {
    const vars = schemes()[scheme];
    const failures: string[] = [];
    for (const [fg, { on, where }] of Object.entries(PAIRS)) {
      for (const bg of on) {
        assert.ok(vars[fg] && vars[bg], `--${fg} and --${bg} are defined`);
        const ratio = contrast(vars[fg], vars[bg]);
        if (ratio < AA_TEXT) failures.push(`--${fg} ${vars[fg]} on --${bg} ${vars[bg]}: ${ratio.toFixed(2)}:1 (${where})`);
      }
    }
    assert.deepEqual(failures, []);
  });
}
