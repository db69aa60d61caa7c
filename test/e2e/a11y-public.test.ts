// axe-core's WCAG 2 A/AA rules on every public page, light and dark, at 1280 and 375 px, in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { auditPages, publicPagePatterns } from '../support/axe-audit.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

let site: SiteServer;
let chrome: LaunchedBrowser;

before(async () => {
  site = await startSiteServer({ now: '2026-01-15T12:00:00.000Z' });
  // Every kind of content the pages show: a plan with a past and a running phase, an incident, a closed task.
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

test('every public page passes axe WCAG 2 A/AA, light and dark, at 1280 and 375 px', { timeout: 300_000 }, async () => {
  const page = await chrome.context.newPage();
  const patterns = publicPagePatterns();
  // The 404 page has no link to it; it is visited as a seed of its own.
  const { failures, covered } = await auditPages(page, site.url, ['/', '/tasks', '/no-such-page'], patterns);
  await page.close();
  assert.deepEqual(failures, []);
  assert.deepEqual(
    patterns.filter((p) => !covered.has(p)),
    [],
    'public pages no link led to',
  );
});
