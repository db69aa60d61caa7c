// Runs axe-core's WCAG 2 A/AA rules over a crawl of pages, light and dark, at 1280 and 375 px, in Chromium.
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { Page } from 'playwright-core';

const AXE_SOURCE: string = createRequire(import.meta.url)('axe-core').source;
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const VARIANTS = [
  { width: 1280, scheme: 'light' },
  { width: 1280, scheme: 'dark' },
  { width: 375, scheme: 'light' },
  { width: 375, scheme: 'dark' },
] as const;

/** A Hono/Astro route pattern (`/task/:id`) as a regular expression over paths. */
function patternRegex(pattern: string): RegExp {
  const body = pattern.replace(/[.*+?^${}()|\\]/g, '\\$&').replace(/\/:\w+/g, '/[^/]+');
  return new RegExp(`^${body}/?$`);
}

/** The public pages are the Astro pages: one route per file under site/pages (the 404 page has none). */
export function publicPagePatterns(): string[] {
  const root = join(import.meta.dirname, '..', '..', 'site', 'pages');
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.astro') && e.name !== '404.astro') {
        const route = `/${relative(root, p)
          .replace(/\.astro$/, '')
          .replace(/(^|\/)index$/, '')}`;
        out.push(route.replace(/\[(\w+)\]/g, ':$1').replace(/\/$/, '') || '/');
      }
    }
  };
  walk(root);
  return out;
}

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[]; failureSummary: string }[];
}

async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, which a page's Content-Security-Policy does not govern.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  }, WCAG_TAGS);
}

/** Same-origin links on the page, as paths with their query, outside feeds, JSON and assets. */
async function linksOn(page: Page, base: string): Promise<string[]> {
  const hrefs = await page.evaluate(() => Array.from(document.querySelectorAll('a[href]')).map((a) => (a as HTMLAnchorElement).href));
  const origin = new URL(base).origin;
  return hrefs
    .map((h) => new URL(h))
    .filter((u) => u.origin === origin && !/\.(xml|json|svg|js|css|png|txt)$|\/feed/.test(u.pathname))
    .map((u) => u.pathname + u.search);
}

/**
 * Visits the seeds and every page they link to (one URL per route pattern), runs axe in every variant, and returns
 * the failures and the patterns it covered. Failures are collected, so one run reports every page that fails.
 */
export async function auditPages(
  page: Page,
  base: string,
  seeds: string[],
  patterns: string[],
): Promise<{ failures: string[]; covered: Set<string> }> {
  const regexes = patterns.map((p) => [p, patternRegex(p)] as const);
  const patternOf = (path: string) => regexes.find(([, r]) => r.test(path.split('?')[0]))?.[0] ?? null;
  const failures: string[] = [];
  const covered = new Set<string>();
  const queue = [...seeds];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const path = queue.shift()!;
    const pattern = patternOf(path);
    const key = pattern ?? path;
    if (seen.has(key) || (pattern === null && !seeds.includes(path))) continue;
    seen.add(key);
    // One load per page; the variants switch the viewport and the colour scheme on the loaded page, as a
    // reader resizing the window or changing the system theme does (media queries apply live; axe reads
    // the computed styles of the moment).
    await page.setViewportSize({ width: VARIANTS[0].width, height: 900 });
    await page.emulateMedia({ colorScheme: VARIANTS[0].scheme });
    const res = await page.goto(base + path, { waitUntil: 'load' });
    assert.ok(res, path);
    failures.push(...(await auditLoadedPage(page, path)));
    if (pattern) covered.add(pattern);
    for (const link of await linksOn(page, base)) queue.push(link);
  }
  return { failures, covered };
}

/**
 * Runs axe on the page as it is loaded now (e.g. the answer to a form just submitted) in every variant, switching the
 * viewport and the colour scheme in place; returns the failures, each labelled with `label`.
 */
export async function auditLoadedPage(page: Page, label: string): Promise<string[]> {
  const failures: string[] = [];
  for (const v of VARIANTS) {
    await page.setViewportSize({ width: v.width, height: 900 });
    await page.emulateMedia({ colorScheme: v.scheme });
    assert.ok(
      await page.evaluate(({ w, dark }) => window.innerWidth === w && matchMedia('(prefers-color-scheme: dark)').matches === dark, {
        w: v.width,
        dark: v.scheme === 'dark',
      }),
      `${label}: the ${v.width}px ${v.scheme} variant applies`,
    );
    for (const violation of await axeViolations(page)) {
      failures.push(
        `${label} (${v.width}px, ${v.scheme}): ${violation.id} [${violation.impact}] ${violation.help}: ${JSON.stringify(violation.nodes)}`,
      );
    }
  }
  return failures;
}
