// Chromium (Debian, via playwright-core) loads every public and staff page under their Content-Security-Policy and
// reports no violation: the pages, the stylesheet, the bars' style attributes and the staff preview script all work.
/// <reference lib="dom" />
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { addStaff } from '#server/services/users/addStaff.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const PASSWORD = 'a long staff password';
// The real time: the browser drops a session cookie whose expiry (server clock + 12 h) is already past.
const NOW = new Date(Math.floor(Date.now() / 60_000) * 60_000);
const at = (days: number) => new Date(NOW.getTime() + days * 86_400_000).toISOString();
let site: SiteServer;
let chrome: LaunchedBrowser;

before(async () => {
  site = await startSiteServer({ now: NOW.toISOString() });
  // A running plan, so the timeline's "now" tick and bars (style attributes) are on the page.
  insertTask(site.db, {
    summary: 'PHP 8.4 rollout',
    type: 'Upgrade',
    section: 'webhosting',
    percent: 40,
    openedAt: at(-10),
    phases: [
      { title: 'canary hosts', startsAt: at(-9), endsAt: at(-4) },
      { title: 'all hosts', startsAt: at(-3), endsAt: at(5) },
    ],
  });
  site.changes.bump();
  const ctx = { db: site.db, clock: () => NOW, changes: site.changes };
  await addStaff({
    ctx,
    actor: { userId: null, name: 'cli' },
    input: { username: 'root', displayName: 'Root', role: 'admin', password: PASSWORD },
  });
  chrome = await launchChromium();
});
after(async () => {
  await chrome?.close();
  await site?.close();
});

interface Violations {
  list: string[];
  reported(count: number): Promise<void>;
}

/**
 * Collects CSP violations two ways: the page's own securitypolicyviolation events (reported through the console by a
 * listener installed before any page script), and Chromium's "Refused to ..." console errors.
 */
async function watchViolations(context: BrowserContext): Promise<Violations> {
  const list: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.documentURI}`);
    });
  });
  context.on('console', (m) => {
    if (!/CSP violation|Refused to|Content Security Policy/.test(m.text())) return;
    list.push(`${m.page()?.url()}: ${m.text()}`);
    for (const w of waiters.filter((x) => list.length >= x.count)) w.resolve();
  });
  return {
    list,
    reported: (count) =>
      new Promise<void>((resolve) => {
        if (list.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

async function visit(page: Page, path: string, status = 200): Promise<void> {
  const res = await page.goto(site.url + path, { waitUntil: 'load' });
  assert.equal(res?.status(), status, path);
  assert.ok(res?.headers()['content-security-policy'], `${path} is served with a Content-Security-Policy`);
}

test('public pages: no CSP violation, the stylesheet applies and the bars keep their widths', async () => {
  const violations = await watchViolations(chrome.context);
  const page = await chrome.context.newPage();
  for (const path of ['/', '/tasks', '/tasks?sort=summary&dir=asc', '/task/2733', '/section/email', '/section/webhosting'])
    await visit(page, path);
  await visit(page, '/no-such-page', 404);
  // The running plan: the stylesheet placed its bars, the style attributes gave them their own offsets.
  const task = Number((site.db.prepare(`SELECT id FROM tasks WHERE summary = 'PHP 8.4 rollout'`).get() as { id: number }).id);
  await visit(page, `/task/${task}`);
  const bars = await page
    .locator('.plan .bar')
    .evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, w: r.width })));
  assert.equal(bars.length, 2);
  assert.ok(bars.every((b) => b.w > 0) && bars[0].x < bars[1].x, `bars drawn from their style attributes: ${JSON.stringify(bars)}`);
  assert.equal(await page.locator('[data-now]').count(), 1);
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.notEqual(background, 'rgba(0, 0, 0, 0)', 'the stylesheet applies');
  assert.deepEqual(violations.list, [], 'CSP violations on public pages');

  // The listener does catch what the policy forbids: an inline <style> and an inline script are refused and reported.
  await page.evaluate(() => {
    const style = document.createElement('style');
    style.textContent = 'body{outline:1px solid red}';
    document.head.append(style);
    const script = document.createElement('script');
    script.textContent = 'window.ran = true';
    document.head.append(script);
  });
  // Each is reported twice (the event and Chromium's own console error).
  await violations.reported(4);
  assert.equal(await page.evaluate(() => (window as unknown as { ran?: boolean }).ran ?? false), false, 'the inline script did not run');
  assert.ok(
    violations.list.some((v) => /style-src/.test(v)),
    `inline style reported: ${violations.list.join('\n')}`,
  );
  assert.ok(
    violations.list.some((v) => /script-src|default-src/.test(v)),
    `inline script reported: ${violations.list.join('\n')}`,
  );
  await page.close();
});

test('staff pages: no CSP violation, and the live Markdown preview (our script, a same-origin fetch) works', async () => {
  // A browser of its own, so the public test's deliberate violations stay out of this list.
  const second = await launchChromium();
  try {
    const violations = await watchViolations(second.context);
    const page = await second.context.newPage();
    await visit(page, '/staff/login');
    await page.fill('#username', 'root');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${site.url}/staff`), page.getByRole('button', { name: 'Log in' }).click()]);
    for (const path of ['/staff', '/staff/tasks/new', '/staff/lists', '/staff/overrides', '/staff/mail', '/staff/audit', '/staff/users'])
      await visit(page, path);
    await visit(page, '/staff/no-such-page', 404);
    await visit(page, '/staff/tasks/2733');
    // The inline stylesheet (allowed by its hash) applies: the notice and error boxes and labels are styled.
    assert.equal(await page.locator('label[for="summary"]').evaluate((el) => getComputedStyle(el).display), 'block');
    await page.locator('#body').fill('Some **bold** words');
    await page.locator('section.preview.live strong').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('section.preview.live strong').innerText(), 'bold');
    assert.deepEqual(violations.list, [], 'CSP violations on staff pages');
    await page.close();
  } finally {
    await second.close();
  }
});
