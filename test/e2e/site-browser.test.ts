// Chromium (Debian, via playwright-core) loads the overview, the task list and FS#2733 at desktop and phone widths.
/// <reference lib="dom" />
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'site');
const WIDTHS = [1280, 375] as const;
let site: SiteServer;
let chrome: LaunchedBrowser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  site = await startSiteServer({ now: '2026-01-15T12:00:00.000Z' });
  insertTask(site.db, {
    summary: 'PHP 8.4 rollout',
    type: 'Upgrade',
    section: 'webhosting',
    percent: 40,
    openedAt: '2026-01-05T08:00:00.000Z',
    phases: [
      { title: 'canary hosts', startsAt: null, endsAt: '2026-01-11T23:59:59.999Z' },
      { title: 'all hosts', startsAt: '2026-01-12T00:00:00.000Z', endsAt: '2026-01-20T23:59:59.999Z' },
    ],
  });
  insertTask(site.db, {
    summary: 'Webmail login fails',
    type: 'Incident',
    section: 'email',
    percent: 10,
    openedAt: '2026-01-15T10:00:00.000Z',
  });
  insertTask(site.db, {
    summary: 'Zone transfer check',
    type: 'Maintenance',
    section: 'dns',
    percent: 0,
    openedAt: '2026-01-14T10:00:00.000Z',
    closed: { at: '2026-01-14T12:00:00.000Z' },
  });
  site.changes.bump();
  chrome = await launchChromium();
});
after(async () => {
  await chrome?.close();
  await site?.close();
});

async function open(path: string, width: number): Promise<Page> {
  const page = await chrome.context.newPage();
  await page.setViewportSize({ width, height: 900 });
  const res = await page.goto(site.url + path);
  assert.equal(res?.status(), 200, path);
  return page;
}

async function noHorizontalScroll(page: Page, what: string) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client + 1, `${what}: page scrolls sideways (${scroll} > ${client})`);
}

test('the overview shows every section light and the incident first, at 1280 and 375 px', async () => {
  for (const width of WIDTHS) {
    const page = await open('/', width);
    assert.equal(await page.locator('.sections > li').count(), 5);
    assert.equal(await page.locator('[data-section="email"] .state > span').innerText(), 'active issues or failures');
    assert.equal(await page.locator('[data-section="dns"] .state > span').innerText(), 'normal work for all services');
    // The icon's shape differs per state, so the light reads without colour.
    assert.equal(await page.locator('[data-section="email"] .icon').innerText(), '✖');
    assert.equal(await page.locator('[data-section="webhosting"] .icon').innerText(), '▲');
    const groups = await page.locator('main h2').allInnerTexts();
    assert.deepEqual(groups.slice(0, 6), ['Services', 'Current issues', 'Running work', 'Upcoming work', 'Recently closed', 'Legend']);
    assert.equal(await page.locator('script').count(), 0);
    // CSS applied: the state icon is coloured, not the default text colour.
    const iconColor = await page.locator('[data-section="email"] .icon').evaluate((el) => getComputedStyle(el).color);
    const textColor = await page.locator('[data-section="email"] .state span').evaluate((el) => getComputedStyle(el).color);
    assert.notEqual(iconColor, textColor);
    await noHorizontalScroll(page, `/ at ${width}`);
    await page.screenshot({ path: join(ARTIFACTS, `overview-${width}.png`), fullPage: true });
    await page.close();
  }
});

test('the overview is keyboard usable: the skip link comes first and lands on main', async () => {
  const page = await open('/', 1280);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => location.hash), '#main');
  await page.close();
});

test('/tasks sorts by a column header and filters with the form, without JavaScript', async () => {
  for (const width of WIDTHS) {
    const page = await open('/tasks', width);
    assert.equal(await page.locator('tbody tr').count(), 4);
    await page.locator('th[data-col="summary"] a').click();
    await page.waitForURL(/sort=summary&dir=asc/);
    const asc = await page.locator('tbody tr td:nth-child(4)').allInnerTexts();
    assert.deepEqual(
      asc,
      [...asc].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())),
    );
    await page.locator('th[data-col="summary"] a').click();
    await page.waitForURL(/sort=summary&dir=desc/);
    assert.deepEqual(await page.locator('tbody tr td:nth-child(4)').allInnerTexts(), [...asc].reverse());
    assert.equal(await page.locator('th[data-col="summary"]').getAttribute('title'), 'A short summary of the task.');

    await page.selectOption('select[name="section"]', 'email');
    await page.selectOption('select[name="show"]', 'open');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/section=email/);
    assert.deepEqual(await page.locator('tbody tr td:nth-child(4)').allInnerTexts(), ['Webmail login fails']);
    await page.fill('input[name="q"]', 'inbound');
    await page.selectOption('select[name="show"]', 'all');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/q=inbound/);
    assert.deepEqual(await page.locator('tbody tr td:nth-child(4)').allInnerTexts(), ['Reworking / Scaling mailsystem inbound']);
    await noHorizontalScroll(page, `/tasks at ${width}`);
    await page.screenshot({ path: join(ARTIFACTS, `tasks-${width}.png`), fullPage: true });
    await page.close();
  }
});

test('/task/2733 draws the deployment plan with three phases, all marked done', async () => {
  for (const width of WIDTHS) {
    const page = await open('/task/2733', width);
    assert.equal(await page.locator('h1').innerText(), 'FS#2733 - Reworking / Scaling mailsystem inbound');
    const phases = page.locator('.plan .phase');
    assert.equal(await phases.count(), 3);
    assert.deepEqual(await phases.evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), ['done', 'done', 'done']);
    assert.deepEqual(await page.locator('.plan .phase .mark').allInnerTexts(), ['✓ done', '✓ done', '✓ done']);
    // The bars sit left to right on one axis and are visible (drawn by CSS alone).
    const boxes = await page
      .locator('.plan .bar')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, w: r.width })));
    assert.ok(
      boxes.every((b) => b.w > 0),
      'each bar has a width',
    );
    assert.ok(boxes[0].x < boxes[1].x && boxes[1].x < boxes[2].x, 'phases in time order');
    assert.equal(await page.locator('.plan [data-now]').count(), 0, 'no "now" marker on a finished plan');
    assert.equal(await page.locator('.comment').count(), 3);
    await noHorizontalScroll(page, `/task/2733 at ${width}`);
    await page.screenshot({ path: join(ARTIFACTS, `task-2733-${width}.png`), fullPage: true });
    await page.close();
  }
});

test('dark mode follows prefers-color-scheme', async () => {
  const page = await chrome.context.newPage();
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${site.url}/task/2733`);
  const dark = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.equal(light, 'rgb(255, 255, 255)');
  assert.equal(dark, 'rgb(13, 17, 23)');
  await page.screenshot({ path: join(ARTIFACTS, 'task-2733-light-1280.png') });
  await page.close();
});

test('/section/email draws 90 daily bars and keeps a labelled place for the mail charts', async () => {
  for (const width of WIDTHS) {
    const page = await open('/section/email', width);
    const bars = page.locator('.history span');
    assert.equal(await bars.count(), 90);
    const heights = await bars.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    assert.ok(
      heights.every((h) => h > 0),
      'every day is drawn',
    );
    // Today has an open incident: its bar is the tallest shape.
    assert.equal(await bars.last().getAttribute('data-state'), 'issues');
    assert.equal(heights.at(-1), Math.max(...heights));
    assert.equal(await page.locator('[data-telemetry-placeholder] h2').innerText(), 'Mail delivery telemetry');
    await noHorizontalScroll(page, `/section/email at ${width}`);
    await page.screenshot({ path: join(ARTIFACTS, `section-email-${width}.png`), fullPage: true });
    await page.close();
  }
});

test('at 360 px no page scrolls sideways, even with 100-character type, status and section names', async () => {
  // Names may be 100 characters (the schema's limit); unbroken words are the worst case for the layout.
  const long = (word: string) => word.repeat(Math.ceil(100 / word.length)).slice(0, 100);
  const [type, status, section] = [long('Verylongtasktype'), long('Verylongstatusname'), long('Verylongsectionname')];
  assert.equal(type.length, 100);
  site.db.prepare('INSERT INTO task_types (name, position) VALUES (?, 99)').run(type);
  site.db.prepare('INSERT INTO statuses (name, position) VALUES (?, 99)').run(status);
  site.db.prepare("INSERT INTO sections (slug, name, description, position) VALUES ('longnames', ?, ?, 99)").run(section, section);
  const root = (site.db.prepare('SELECT id FROM categories WHERE parent_id IS NULL').get() as { id: number }).id;
  site.db.prepare('INSERT INTO categories (parent_id, name, position) VALUES (?, ?, 99)').run(root, section);
  insertTask(site.db, {
    summary: long('Verylongsummary'),
    type,
    status,
    section: 'email',
    percent: 5,
    openedAt: '2026-01-15T09:00:00.000Z',
    phases: [{ title: long('Verylongphasetitle'), startsAt: '2026-01-15T00:00:00.000Z', endsAt: '2026-01-16T23:59:59.999Z' }],
  });
  insertTask(site.db, {
    summary: 'Long section task',
    type,
    status,
    section: 'longnames',
    percent: 5,
    openedAt: '2026-01-15T09:30:00.000Z',
  });
  site.db
    .prepare(
      "INSERT INTO comments (task_id, author_id, created_at, body_md, body_html) VALUES (2733, (SELECT id FROM users WHERE username = 'legacy-admin'), '2026-01-15T11:00:00.000Z', ?, ?)",
    )
    .run(long('Unbrokencommentword'), `<p>${long('Unbrokencommentword')}</p>`);
  site.changes.bump();
  const wide: string[] = [];
  for (const path of ['/', '/tasks', '/task/2733', '/section/email', '/section/longnames']) {
    const page = await chrome.context.newPage();
    // The earlier tests left these pages in the browser's HTTP cache (max-age=15), from before the long names.
    const cdp = await chrome.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await page.setViewportSize({ width: 360, height: 900 });
    assert.equal((await page.goto(site.url + path))?.status(), 200, path);
    if (path === '/tasks')
      assert.equal(await page.locator(`select[name="type"] option[value="${type}"]`).count(), 1, 'the long type is a filter option');
    else if (path !== '/task/2733') assert.ok((await page.content()).includes(type), `${path} shows the long type`);
    const [scroll, client] = await page.evaluate(() => [document.scrollingElement!.scrollWidth, document.scrollingElement!.clientWidth]);
    await page.screenshot({ path: join(ARTIFACTS, `long-names-${path.replace(/\W+/g, '-')}-360.png`), fullPage: true });
    if (scroll > 360) wide.push(`${path}: scrollWidth ${scroll} (clientWidth ${client})`);
    await page.close();
  }
  assert.deepEqual(wide, [], 'pages that scroll sideways at 360 px');
});
