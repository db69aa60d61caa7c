// WCAG 2.x 1.4.11 (non-text contrast): each daily bar's colour, "no data" included, stands out at 3:1 or better from the
// page background it is drawn on, in the light and the dark scheme, with the values taken from site/styles/site.css.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_STATES } from '#data/contracts/states.ts';

const CSS = readFileSync(join(import.meta.dirname, '..', '..', 'site', 'styles', 'site.css'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const NON_TEXT = 3;

function vars(block: string): Record<string, string> {
  return Object.fromEntries([...block.matchAll(/--([\w-]+)\s*:\s*([^;}]+)/g)].map((m) => [m[1], m[2].trim()]));
}

function luminance(hex: string): number {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex)?.[1];
  assert.ok(m, `${hex} is a hex colour`);
  const h = m.length === 3 ? [...m].map((c) => c + c).join('') : m;
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(h.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};

/** The colour variable each bar kind is filled with, from its rule in site.css. */
function barColours(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of CSS.matchAll(/\.h-([\w-]+)\{([^}]*)\}/g)) {
    const v = /background:var\(--([\w-]+)\)/.exec(m[2]);
    if (v) out[m[1]] = v[1];
  }
  return out;
}

test('every state and "no data" has its own bar rule; "no data" uses no service colour', () => {
  const bars = barColours();
  assert.deepEqual(Object.keys(bars).sort(), [...SERVICE_STATES, 'none'].sort());
  const service = SERVICE_STATES.map((s) => bars[s]);
  assert.ok(!service.includes(bars.none), `--${bars.none} is a service colour`);
  assert.equal(new Set(service).size, service.length, 'each state has its own colour');
});

for (const scheme of ['light', 'dark'] as const) {
  test(`${scheme} scheme: every bar reaches ${NON_TEXT}:1 against the page background`, () => {
    const dark = /@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}/.exec(CSS);
    assert.ok(dark);
    const light = /(?:^|\})\s*:root\s*\{([^}]*)\}/.exec(CSS.replace(dark[0], ''));
    assert.ok(light);
    const v = scheme === 'light' ? vars(light[1]) : { ...vars(light[1]), ...vars(dark[1]) };
    const failures = Object.entries(barColours())
      .map(([kind, colour]) => [kind, colour, contrast(v[colour], v.bg)] as const)
      .filter(([, , ratio]) => ratio < NON_TEXT)
      .map(([kind, colour, ratio]) => `.h-${kind} --${colour} ${v[colour]} on --bg ${v.bg}: ${ratio.toFixed(2)}:1`);
    assert.deepEqual(failures, []);
  });
}
