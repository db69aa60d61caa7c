// The subscribe form in Chromium, with JavaScript and without (issue 14): on the overview, a section page and a task
// page it sends a follow of that scope and shows the same answer; the link from the mail confirms with its button,
// and the manage page unfollows and deletes the address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { sendConfirmationsToArray } from '../support/subscriptions.ts';

let site: SiteServer;
let chrome: LaunchedBrowser;

before(async () => {
  site = await startSiteServer({ now: '2026-01-15T12:00:00.000Z' });
  chrome = await launchChromium();
});
after(async () => {
  await chrome?.close();
  await site?.close();
});

const follows = (email: string) =>
  site.db
    .prepare(
      `SELECT s.scope, sec.slug AS section, s.task_id AS task, s.confirmed_at IS NOT NULL AS confirmed FROM subscriptions s
       JOIN subscribers b ON b.id = s.subscriber_id LEFT JOIN sections sec ON sec.id = s.section_id WHERE b.email = ? ORDER BY s.id`,
    )
    .all(email) as { scope: string; section: string | null; task: number | null; confirmed: number }[];

async function subscribeOn(page: Page, path: string, email: string): Promise<string> {
  await page.goto(site.url + path);
  await page.getByLabel('Your email address').fill(email);
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.waitForSelector('[data-subscribe-answer]');
  assert.equal(await page.title(), 'Check your inbox · Tidings status');
  return (await page.locator('main').innerText()).trim();
}

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? 'with JavaScript' : 'without JavaScript';
  test(`subscribe, confirm, unfollow and delete in Chromium ${mode}`, { timeout: 120_000 }, async () => {
    // The context is Chromium's persistent one: script execution is switched off per page, through the DevTools protocol.
    const page = await chrome.context.newPage();
    await (await chrome.context.newCDPSession(page)).send('Emulation.setScriptExecutionDisabled', { value: !javaScriptEnabled });
    await page.setContent('<title>none</title><script>document.title = "ran"</script>');
    assert.equal(await page.title(), javaScriptEnabled ? 'ran' : 'none', `scripts ${mode}`);
    const email = `browser-${javaScriptEnabled ? 'js' : 'nojs'}@example.net`;
    const answers = new Set<string>();
    answers.add(await subscribeOn(page, '/', email));
    answers.add(await subscribeOn(page, '/section/email', email));
    answers.add(await subscribeOn(page, '/task/2733', email));
    // The same address again: the same answer.
    answers.add(await subscribeOn(page, '/', email));
    assert.equal(answers.size, 1);
    assert.deepEqual(follows(email), [
      { scope: 'all', section: null, task: null, confirmed: 0 },
      { scope: 'section', section: 'email', task: null, confirmed: 0 },
      { scope: 'task', section: null, task: 2733, confirmed: 0 },
    ]);
    const links = (await sendConfirmationsToArray(site.db, 'http://status.example.test')).filter((l) => l.to === email);
    assert.equal(links.length, 3, 'one confirmation per follow');
    await page.goto(site.url + links[1].confirm);
    assert.equal(follows(email)[1].confirmed, 0, 'opening the link confirms nothing');
    await page.getByRole('button', { name: 'Confirm the subscription' }).click();
    await page.waitForSelector('[data-confirmed]');
    assert.equal(follows(email)[1].confirmed, 1);
    await page.getByRole('link', { name: 'See and change what you follow' }).click();
    assert.equal(await page.locator('[data-follow]').count(), 3);
    await page.getByRole('button', { name: 'Unfollow Everything' }).click();
    await page.waitForSelector('[data-notice]');
    assert.equal(await page.locator('[data-follow]').count(), 2);
    assert.deepEqual(
      follows(email).map((f) => f.scope),
      ['section', 'task'],
    );
    await page.getByRole('button', { name: 'Delete my address' }).click();
    await page.waitForSelector('[data-deleted]');
    assert.equal(follows(email).length, 0);
    assert.equal((site.db.prepare('SELECT count(*) AS n FROM subscribers WHERE email = ?').get(email) as { n: number }).n, 0);
    await page.close();
  });
}
