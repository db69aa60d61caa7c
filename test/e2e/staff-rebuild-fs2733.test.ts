// Chromium rebuilds FS#2733 from an empty database through the staff pages only; its public page then equals the seeded one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import { FS2733 } from '#data/seed/fs2733.ts';
import { seedDefaults } from '#server/store/seed.ts';
import { addStaff } from '#server/services/users/addStaff.ts';
import { createChangeCounter } from '#server/deps.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';

// Both servers' clocks stand at the real time (to the minute): the browser keeps the session cookie only until its real expiry.
const NOW = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
const PASSWORD = 'a long staff password';
let seeded: SiteServer;
let chrome: LaunchedBrowser;
const rebuilt: SiteServer[] = [];

/** An empty installation: schema and default lists, no tasks; the first admin made as the CLI makes it. */
async function emptyServer(): Promise<SiteServer> {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.backend });
  seedDefaults(db, NOW);
  await addStaff({
    ctx: { db, clock: () => new Date(NOW), changes: createChangeCounter() },
    actor: { userId: null, name: 'cli' },
    input: { username: 'admin', displayName: 'Admin', role: 'admin', password: PASSWORD },
  });
  const server = await startSiteServer({ now: NOW, db });
  rebuilt.push(server);
  return server;
}

before(async () => {
  seeded = await startSiteServer({ now: NOW });
  chrome = await launchChromium();
});
after(async () => {
  await chrome?.close();
  for (const s of rebuilt) await s.close();
  await seeded?.close();
});

const wall = (iso: string) => iso.slice(0, 16); // the servers show UTC, the seed's zone

async function submit(page: Page, button: string) {
  // Every form posts and navigates (no JavaScript): wait for the new document, not the old one.
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: button, exact: true }).click()]);
  const errors = await page.locator('.error').allInnerTexts();
  assert.deepEqual(errors, [], `after "${button}": ${errors.join(' | ')}`);
}

async function rebuildAndCompare(javascript: boolean) {
  const target = await emptyServer();
  const page = await chrome.context.newPage();
  // Without JavaScript: the staff pages' only script is refused, so every step is a plain form post.
  if (!javascript) await page.route('**/staff/assets/enhance.js', (route) => route.abort());
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });

  await page.goto(`${target.url}/staff`);
  assert.match(page.url(), /\/staff\/login\?next=%2Fstaff$/);
  await page.fill('#username', 'admin');
  await page.fill('#password', PASSWORD);
  await submit(page, 'Log in');
  assert.equal(await page.locator('h1').innerText(), 'Open tasks');

  await page.getByRole('link', { name: 'New task', exact: true }).click();
  await page.fill('#summary', FS2733.summary);
  await page.selectOption('#typeId', { label: FS2733.type });
  await page.selectOption('#categoryId', { label: FS2733.categoryPath.join(' → ') });
  await page.selectOption('#sectionId', { label: 'Email' });
  await page.selectOption('#statusId', { label: FS2733.status });
  await page.fill('#percent', '0');
  await page.fill('#openedAt', wall(FS2733.openedAt));
  await page.fill('#id', String(FS2733.id));
  await page.fill('#details', FS2733.details);
  // With JavaScript the preview follows the typing; without it the Preview button renders the same server HTML.
  if (javascript) await page.locator('section.preview.live').filter({ hasText: FS2733.details }).waitFor({ timeout: 5000 });
  else assert.equal(await page.locator('section.preview.live').count(), 0);
  await submit(page, 'Preview');
  assert.equal(await page.locator('section.preview:not(.live)').innerText(), FS2733.details);
  await submit(page, 'Create task');
  assert.match(page.url(), /\/staff\/tasks\/2733\?done=created$/);

  for (const c of FS2733.comments) {
    await page.fill('#body', c.body);
    await page.fill('#at', wall(c.at));
    await submit(page, 'Post comment');
  }

  // Two blank phase rows at a time: enter two, save, then the third appears.
  const [p1, p2, p3] = FS2733.phases;
  await page.fill('#phase_title_0', p1.title);
  await page.fill('#phase_edate_0', p1.endsAt.slice(0, 10));
  await page.fill('#phase_title_1', p2.title);
  await page.fill('#phase_sdate_1', p2.startsAt!.slice(0, 10));
  await page.fill('#phase_edate_1', p2.endsAt.slice(0, 10));
  await submit(page, 'Save plan');
  await page.fill('#phase_title_2', p3.title);
  await page.fill('#phase_sdate_2', p3.startsAt!.slice(0, 10));
  await page.fill('#phase_edate_2', p3.endsAt.slice(0, 10));
  await submit(page, 'Save plan');

  await page.selectOption('#reasonId', { label: FS2733.closeReason });
  await page.fill('#closeAt', wall(FS2733.closedAt));
  await submit(page, 'Close task (percent → 100)');
  assert.match(await page.locator('main').innerText(), /Closed \(Finished\) by Admin at 2021-11-10 16:09/);

  // The stored task equals the seed's data, instant for instant.
  const row = (db: SiteServer['db']) => ({
    task: db
      .prepare(`SELECT id, summary, details_md, details_html, percent, is_closed, closed_at, opened_at FROM tasks WHERE id = 2733`)
      .get(),
    comments: db.prepare('SELECT created_at, body_md, body_html FROM comments WHERE task_id = 2733 ORDER BY created_at').all(),
    phases: db.prepare('SELECT position, title, starts_at, ends_at, note FROM phases WHERE task_id = 2733 ORDER BY position').all(),
  });
  assert.deepEqual(row(target.db), row(seeded.db));

  // The public pages, field by field, then as a whole.
  const pub = await chrome.context.newPage();
  const read = async (base: string) => {
    await pub.goto(`${base}/task/2733`);
    const field = (f: string) => pub.locator(`[data-field="${f}"]`).innerText();
    return {
      status: await field('status'),
      percent: await field('percent'),
      type: await field('type'),
      category: await field('category'),
      section: await field('section'),
      opened: await pub.locator('article > p', { hasText: 'Opened by' }).innerText(),
      heading: await pub.locator('article h1').innerText(),
      details: await pub.locator('article .details').innerHTML(),
      closed: await pub.locator('[data-closed]').innerText(),
      times: await pub.locator('article time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime'))),
      comments: await pub.locator('li.comment').evaluateAll((els) => els.map((e) => e.innerHTML)),
      phases: await pub.locator('li.phase').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-state')}|${e.textContent}`)),
      article: await pub.locator('article').innerHTML(),
    };
  };
  const want = await read(seeded.url);
  const got = await read(target.url);
  for (const key of Object.keys(want) as (keyof typeof want)[]) assert.deepEqual(got[key], want[key], `public field "${key}" differs`);
  assert.equal(want.status, 'Closed');
  assert.equal(want.heading, `FS#2733 - ${FS2733.summary}`);
  assert.equal(want.phases.length, 3);
  assert.ok(want.phases.every((p) => p.startsWith('done|')));
  assert.equal(want.comments.length, 3);
  assert.deepEqual(dialogs, []);
  await page.close();
  await pub.close();
}

test('FS#2733 rebuilt through /staff without JavaScript matches the seeded public page in every field', () => rebuildAndCompare(false));
test('FS#2733 rebuilt through /staff with the live preview on matches the seeded public page in every field', () =>
  rebuildAndCompare(true));
