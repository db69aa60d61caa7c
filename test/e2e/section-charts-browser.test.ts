// Chromium (Debian, via playwright-core): /section/email draws its four telemetry charts with data from telemetry
// posted through the real ingest, shades the deployment phase as a band on each (light and dark colours), folds the
// tables under their summaries; with JavaScript off, no canvas shows and the open tables alone carry the numbers.
/// <reference lib="dom" />
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { TelemetryEvent } from '#data/contracts/telemetry.ts';
import { createChangeCounter } from '#server/deps.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { blend, CHART_PALETTES } from '../../site/lib/charts-palette.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { postAsNode, startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'site');
const NOW = '2026-01-15T12:30:00.000Z';
const T = Date.parse(NOW);
const HOUR = 3_600_000;
let site: SiteServer;
let chrome: LaunchedBrowser;
let taskId = 0;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  site = await startSiteServer({ now: NOW });
  // A phase from 02:00 to 07:00 UTC: hours with no mail, so the band's own colour shows in the empty chart area.
  taskId = insertTask(site.db, {
    summary: 'MX rollout',
    section: 'email',
    openedAt: '2026-01-10T08:00:00.000Z',
    phases: [
      { title: 'deployment and parallel service new/old', startsAt: '2026-01-15T02:00:00.000Z', endsAt: '2026-01-15T06:59:59.999Z' },
    ],
  });
  const token = issueNodeToken({
    ctx: { db: site.db, clock: () => new Date(T), changes: createChangeCounter() },
    actor: { userId: null, name: 'test' },
    name: 'mx1',
  });
  // Mail in the last four hours: 8, 16, 24 and 32 delivered per hour (the first two hours relayed to the old system,
  // the last two by the new one), one more deferred (still queued) and one rejected; after each hour's mail a
  // heartbeat that measures the queue.
  let seq = 0;
  for (let h = 1; h <= 4; h++) {
    const start = T - (5 - h) * HOUR;
    const events: TelemetryEvent[] = [];
    for (let i = 0; i < 8 * h; i++) {
      events.push({ seq: ++seq, at: start + i * 1000, type: 'accepted', messageId: `m${h}-${i}`, deliveries: 1 });
      events.push({
        seq: ++seq,
        at: start + i * 1000 + 1,
        type: 'delivered',
        messageId: `m${h}-${i}`,
        route: h <= 2 ? 'legacy' : 'maildir',
        latencyMs: 50 * (i + 1),
      });
    }
    events.push({ seq: ++seq, at: start + 59_000, type: 'accepted', messageId: `d${h}`, deliveries: 1 });
    events.push({ seq: ++seq, at: start + 60_000, type: 'deferred', messageId: `d${h}`, route: 'forward' });
    events.push({ seq: ++seq, at: start + 61_000, type: 'rejected', reason: 'unknown-user' });
    await postAsNode(site, '/api/v1/telemetry', token, { after: seq - events.length, events });
    await postAsNode(site, '/api/v1/telemetry/heartbeat', token, {
      at: start + 120_000,
      queueDepth: h,
      oldestQueuedMs: h * 60_000,
      inRetry: h,
      configVersion: 1,
      lastSyncAt: null,
      lastSeq: seq,
    });
  }
  site.changes.bump();
  chrome = await launchChromium();
});
after(async () => {
  await chrome?.close();
  await site?.close();
});

interface Band {
  x: number;
  x2: number;
  y: number;
  y2: number;
  /** The band's label as drawn. */
  label: unknown;
}

/** Waits until the four charts have rendered, and returns each one's bands as the script reports them. */
async function drawnCharts(page: Page): Promise<Record<string, Band[]>> {
  await page.waitForFunction(() => document.querySelectorAll('figure[data-chart][data-drawn="true"]').length === 4, null, {
    timeout: 15_000,
  });
  return page.evaluate(() =>
    Object.fromEntries(
      Array.from(document.querySelectorAll<HTMLElement>('figure[data-chart]')).map((f) => [
        f.dataset.chart,
        JSON.parse(f.dataset.bands ?? '[]'),
      ]),
    ),
  );
}

/** Pixels of a chart's canvas: how many are painted, and the colour at a point (CSS pixels). */
async function canvasPixels(
  page: Page,
  chart: string,
  at?: { x: number; y: number },
): Promise<{ painted: number; total: number; rgb: number[] | null }> {
  return page.evaluate(
    ({ chart, at }) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`figure[data-chart="${chart}"] canvas`)!;
      const ctx = canvas.getContext('2d')!;
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
      let rgb: number[] | null = null;
      if (at) {
        const r = canvas.width / canvas.getBoundingClientRect().width;
        const p = ctx.getImageData(Math.round(at.x * r), Math.round(at.y * r), 1, 1).data;
        rgb = [p[0], p[1], p[2], p[3]];
      }
      return { painted, total: data.length / 4, rgb };
    },
    { chart, at },
  );
}

/** How many opaque pixels of a chart's canvas have `colour` (within 2 per channel). */
function colourPixels(page: Page, chart: string, colour: string): Promise<number> {
  return page.evaluate(
    ({ chart, colour }) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`figure[data-chart="${chart}"] canvas`)!;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      const want = [1, 3, 5].map((i) => Number.parseInt(colour.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (want.every((v, k) => Math.abs(v - data[i + k]) <= 2) && data[i + 3] === 255) n++;
      return n;
    },
    { chart, colour },
  );
}

const hex = (rgb: number[]) =>
  `#${rgb
    .slice(0, 3)
    .map((v) => v.toString(16).padStart(2, '0'))
    .join('')}`;

test('/section/email draws the four charts with data and the phase band, light and dark, at 1280 and 375 px', async () => {
  for (const width of [1280, 375]) {
    const page = await chrome.context.newPage();
    // A CSP violation (the chart script refused, an inline style or script) is reported as a console error below.
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.setViewportSize({ width, height: 900 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      if (scheme === 'light') assert.equal((await page.goto(`${site.url}/section/email`))?.status(), 200);
      // The script redraws on a change of scheme; wait for the dark palette's band colour to be in place.
      const palette = CHART_PALETTES[scheme];
      const fill = blend(palette.band, palette.bandAlpha, palette.bg);
      const bands = await drawnCharts(page);
      for (const chart of ['outcomes', 'systems', 'latency', 'queue']) {
        assert.equal(bands[chart].length, 1, `${chart}: one phase band`);
        const b = bands[chart][0];
        assert.ok(b.x2 - b.x > 10 && b.y2 - b.y > 50, `${chart} at ${width}px: the band has an area (${JSON.stringify(b)})`);
        // The band's label is the whole title where it fits, the task number alone where it does not (a phone).
        const short = `FS#${taskId}`;
        assert.ok(
          b.label === `${short} deployment and parallel service new/old` || b.label === short,
          `${chart} at ${width}px: band label ${JSON.stringify(b.label)}`,
        );
        if (width < 500) assert.equal(b.label, short, `${chart} at ${width}px: a narrow band shows the task number alone`);
        // The chart draws on its canvas: a good part of it is painted (axes, bars or lines, band).
        await page.waitForFunction(
          ({ chart, b, fill }) => {
            const canvas = document.querySelector<HTMLCanvasElement>(`figure[data-chart="${chart}"] canvas`)!;
            const r = canvas.width / canvas.getBoundingClientRect().width;
            const p = canvas
              .getContext('2d')!
              .getImageData(Math.round(((b.x + b.x2) / 2) * r), Math.round((b.y + (b.y2 - b.y) * 0.6) * r), 1, 1).data;
            const want = [1, 3, 5].map((i) => Number.parseInt(fill.slice(i, i + 2), 16));
            return want.every((v, i) => Math.abs(v - p[i]) <= 3);
          },
          { chart, b, fill },
          { timeout: 10_000 },
        );
        const px = await canvasPixels(page, chart, { x: (b.x + b.x2) / 2, y: b.y + (b.y2 - b.y) * 0.6 });
        assert.ok(px.painted > px.total * 0.05, `${chart} at ${width}px ${scheme}: ${px.painted} of ${px.total} pixels painted`);
        assert.ok(px.rgb, `${chart}: a pixel inside the band`);
        const got = hex(px.rgb);
        assert.ok(
          [0, 1, 2].every((i) => Math.abs(px.rgb![i] - Number.parseInt(fill.slice(1 + 2 * i, 3 + 2 * i), 16)) <= 3),
          `${chart} at ${width}px ${scheme}: the band is shaded ${fill} (got ${got})`,
        );
      }
      // The outcome bars have the delivered colour somewhere in the last hours' columns.
      const delivered = await colourPixels(page, 'outcomes', palette.delivered);
      assert.ok(delivered > 100, `outcomes at ${width}px ${scheme}: ${delivered} pixels of delivered bars`);
      for (const colour of [palette.systemNew, palette.systemLegacy]) {
        const n = await colourPixels(page, 'systems', colour);
        assert.ok(n > 20, `systems at ${width}px ${scheme}: ${n} pixels of the ${colour} line`);
      }
      await page.screenshot({ path: join(ARTIFACTS, `section-email-charts-${scheme}-${width}.png`), fullPage: true });
    }
    // With the charts drawn, the tables fold under their summaries and still hold the numbers.
    assert.deepEqual(await page.locator('details.chart-data').evaluateAll((els) => els.map((e) => (e as HTMLDetailsElement).open)), [
      false,
      false,
      false,
      false,
    ]);
    assert.equal(
      await page.locator('figure[data-chart="outcomes"] tr[data-from="2026-01-15T11:00:00.000Z"] td[data-k="delivered"]').textContent(),
      '32',
    );
    assert.equal(await page.locator('canvas[role="img"]').count(), 4);
    assert.ok(
      (await page.evaluate(() => document.documentElement.scrollWidth)) <= width + 1,
      `/section/email at ${width}px does not scroll sideways`,
    );
    assert.deepEqual(errors, []);
    await page.close();
  }
});

test('with JavaScript off, no chart shows and the open tables alone carry the numbers', async () => {
  const page = await chrome.context.newPage();
  const cdp = await chrome.context.newCDPSession(page);
  await cdp.send('Emulation.setScriptExecutionDisabled', { value: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.equal((await page.goto(`${site.url}/section/email`))?.status(), 200);
  assert.equal(await page.evaluate(() => document.querySelectorAll('[data-drawn]').length), 0, 'no chart was drawn');
  assert.deepEqual(
    await page.locator('.chart-box').evaluateAll((els) => els.map((e) => getComputedStyle(e).display)),
    ['none', 'none', 'none', 'none'],
    'the empty canvases stay hidden',
  );
  const row = (chart: string) => page.locator(`figure[data-chart="${chart}"] tr[data-from="2026-01-15T11:00:00.000Z"]`);
  assert.ok(await row('outcomes').isVisible());
  assert.deepEqual(await row('outcomes').locator('th, td').allInnerTexts(), ['15 Jan 11:00', '33', '32', '1', '0', '1']);
  // 84 deliveries accepted: 80 delivered, the 4 deferred still queued at the last reading.
  assert.match(
    await page.locator('p.accounting').innerText(),
    /accepted 84 = delivered 80 \+ queued 4 \+ quarantined 0 \+ bounced 0 \+ discarded 0, unaccounted 0\./,
  );
  // 32 deliveries at 50 ms to 1.6 s: the 16th (800 ms) and the 31st (1.55 s) as bucket bounds.
  assert.deepEqual(await row('latency').locator('th, td').allInnerTexts(), ['15 Jan 11:00', '32', '≤ 1 s', '≤ 1.8 s']);
  // By mail system: the new one delivered the last two hours, the old one (relayed) the two before.
  assert.deepEqual(await row('systems').locator('th, td').allInnerTexts(), ['15 Jan 11:00', '32', '32', '0']);
  assert.deepEqual(await page.locator('figure[data-chart="systems"] tr[data-from="2026-01-15T09:00:00.000Z"] td').allInnerTexts(), [
    '16',
    '0',
    '16',
  ]);
  assert.deepEqual(await row('queue').locator('th, td').allInnerTexts(), ['15 Jan 11:00', '1', '4', '4 min']);
  assert.deepEqual(await page.locator('figure[data-chart="queue"] tr[data-from="2026-01-15T03:00:00.000Z"] td').allInnerTexts(), [
    '0',
    'no heartbeat',
    'no heartbeat',
  ]);
  assert.deepEqual(await page.locator('details.chart-data').evaluateAll((els) => els.map((e) => (e as HTMLDetailsElement).open)), [
    true,
    true,
    true,
    true,
  ]);
  assert.match(
    await page.locator('[data-phases]').innerText(),
    /deployment and parallel service new\/old: 2026-01-15 02:00 GMT to 2026-01-15 06:59 GMT/,
  );
  await page.screenshot({ path: join(ARTIFACTS, 'section-email-charts-nojs-1280.png'), fullPage: true });
  await page.close();
});
