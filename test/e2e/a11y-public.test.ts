// axe-core's WCAG 2 A/AA rules on every public page, light and dark, at 1280 and 375 px, in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { auditLoadedPage, auditPages, publicPagePatterns } from '../support/axe-audit.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { postAsNode, startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';
import { sendConfirmationsToArray } from '../support/subscriptions.ts';
import { createChangeCounter } from '#server/deps.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';

let site: SiteServer;
let chrome: LaunchedBrowser;
/** An Email task whose impact report has every kind of line: numbers, no telemetry, running, not started. */
let impactTask: number;

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
  // A first view stores each section's state; the incident below then shows on /section/email as a stored change
  // from one state to another (the section pages all have "no data" bars before today).
  site.changes.bump();
  assert.equal((await site.get('/status.json')).status, 200);
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
  impactTask = insertTask(site.db, {
    summary: 'Scale inbound mail',
    type: 'Upgrade',
    section: 'email',
    openedAt: '2026-01-13T00:00:00.000Z',
    phases: [
      { title: 'preparation', startsAt: null, endsAt: '2026-01-13T11:59:59.999Z' },
      { title: 'deployment and parallel service new/old', startsAt: '2026-01-13T12:00:00.000Z', endsAt: '2026-01-14T23:59:59.999Z' },
      { title: 'monitoring', startsAt: '2026-01-15T00:00:00.000Z', endsAt: null },
      { title: 'deactivation', startsAt: '2026-01-20T00:00:00.000Z', endsAt: null },
    ],
  });
  const token = issueNodeToken({
    ctx: { db: site.db, clock: () => new Date('2026-01-15T12:00:00.000Z'), changes: createChangeCounter() },
    actor: { userId: null, name: 'test' },
    name: 'mx1',
  });
  const at = (iso: string) => Date.parse(iso);
  await postAsNode(site, '/api/v1/telemetry', token, {
    after: 0,
    events: [
      { seq: 1, at: at('2026-01-10T10:00:00.000Z'), type: 'accepted', messageId: 'a' },
      { seq: 2, at: at('2026-01-10T10:00:01.000Z'), type: 'delivered', messageId: 'a', route: 'maildir', latencyMs: 900 },
      { seq: 3, at: at('2026-01-14T10:00:00.000Z'), type: 'accepted', messageId: 'b' },
      { seq: 4, at: at('2026-01-14T10:00:02.000Z'), type: 'delivered', messageId: 'b', route: 'lmtp', latencyMs: 2_000 },
    ],
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
  // The 404 page has no link to it; it is visited as a seed of its own. So are the subscription pages (reached from
  // a form or a mail): here as they are without a valid link, with one in the test below.
  const seeds = [
    '/',
    '/tasks',
    '/no-such-page',
    '/subscribe',
    '/subscriptions/confirm',
    '/subscriptions/manage',
    '/subscriptions/unsubscribe',
  ];
  const { failures, covered } = await auditPages(page, site.url, seeds, patterns);
  await page.close();
  assert.deepEqual(failures, []);
  assert.deepEqual(
    patterns.filter((p) => !covered.has(p)),
    [],
    'public pages no link led to',
  );
});

test('a task page with an impact report passes axe WCAG 2 A/AA, light and dark, at 1280 and 375 px', { timeout: 120_000 }, async () => {
  const path = `/task/${impactTask}`;
  const html = await (await site.get(path)).text();
  // The report is there with measured numbers and with the words for what was not measured.
  assert.match(html, /<section aria-labelledby="impact-h" data-impact>/);
  assert.match(html, /1 message accepted/);
  assert.match(html, /No telemetry for this period/);
  assert.match(html, /not started yet/);
  const page = await chrome.context.newPage();
  const { failures, covered } = await auditPages(page, site.url, [path], ['/task/:id']);
  await page.close();
  assert.deepEqual(failures, []);
  assert.deepEqual([...covered], ['/task/:id']);
});

test('a section page with "no data" bars and a list of state changes passes axe WCAG 2 A/AA, light and dark, at 1280 and 375 px', {
  timeout: 120_000,
}, async () => {
  const html = await (await site.get('/section/email')).text();
  // What is audited: days without data, a day with a state, a change from one state to another.
  assert.match(html, /data-state="none"/);
  assert.match(html, /data-day="2026-01-15" data-state="issues"/);
  assert.match(html, /<li data-change="issues" data-source="tasks">/);
  const page = await chrome.context.newPage();
  const { failures, covered } = await auditPages(page, site.url, ['/section/email'], ['/section/:slug']);
  await page.close();
  assert.deepEqual(failures, []);
  assert.deepEqual([...covered], ['/section/:slug']);
});

test('a section page with telemetry charts, their tables and a phase band passes axe WCAG 2 A/AA, light and dark, at 1280 and 375 px', {
  timeout: 180_000,
}, async () => {
  // Mail in the last 24 hours from a second node, with heartbeats: every chart has data and the tables have numbers
  // (the older half relayed to the old mail system, the rest delivered by the new one); the impact task's "monitoring"
  // phase is running, so each chart has a band.
  const now = Date.parse('2026-01-15T12:00:00.000Z');
  const token = issueNodeToken({
    ctx: { db: site.db, clock: () => new Date(now), changes: createChangeCounter() },
    actor: { userId: null, name: 'test' },
    name: 'mx-a11y',
  });
  const events = [];
  for (let i = 0; i < 12; i++) {
    const at = now - (i + 1) * 3_600_000 + 60_000;
    events.push({ seq: 3 * i + 1, at, type: 'accepted', messageId: `c${i}` });
    events.push({
      seq: 3 * i + 2,
      at: at + 1,
      type: 'delivered',
      messageId: `c${i}`,
      route: i < 6 ? 'legacy' : 'maildir',
      latencyMs: 100 * (i + 1),
    });
    events.push({ seq: 3 * i + 3, at: at + 2, type: 'rejected', reason: i % 2 ? 'unknown-user' : 'too-big' });
  }
  await postAsNode(site, '/api/v1/telemetry', token, { after: 0, events });
  await postAsNode(site, '/api/v1/telemetry/heartbeat', token, {
    at: now - 600_000,
    queueDepth: 3,
    oldestQueuedMs: 45_000,
    inRetry: 1,
    configVersion: 1,
    lastSyncAt: null,
    lastSeq: 36,
  });
  site.changes.bump();
  for (const path of ['/section/email', '/section/email?range=7d']) {
    const html = await (await site.get(path)).text();
    assert.equal([...html.matchAll(/<canvas role="img"/g)].length, 4, path);
    assert.match(html, /<td data-k="rejected:too-big">[1-9]\d*<\/td>/, `${path}: the tables have numbers`);
    const page = await chrome.context.newPage();
    const { failures, covered } = await auditPages(page, site.url, [path], ['/section/:slug']);
    // The audit ran on drawn charts (axe runs after the page's load, when the chart script has drawn them).
    assert.equal(await page.locator('figure[data-chart][data-drawn="true"]').count(), 4, `${path}: charts drawn`);
    assert.ok((await page.locator('figure[data-chart="outcomes"]').getAttribute('data-bands'))?.includes('"x"'), `${path}: a band`);
    await page.close();
    assert.deepEqual(failures, []);
    assert.deepEqual([...covered], ['/section/:slug']);
  }
});

test('the subscription pages pass axe WCAG 2 A/AA, light and dark, at 1280 and 375 px: answer, invalid, limited, confirm, confirmed, manage, unsubscribe', {
  timeout: 180_000,
}, async () => {
  const page = await chrome.context.newPage();
  const failures: string[] = [];
  // The form on the overview, sent as a visitor does: the answer page.
  await page.goto(`${site.url}/`);
  await page.getByLabel('Your email address').fill('a11y@example.net');
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.waitForSelector('[data-subscribe-answer]');
  failures.push(...(await auditLoadedPage(page, 'POST /subscribe')));
  // A second follow, so the manage page lists two (one still waiting for its confirmation).
  await page.goto(`${site.url}/section/email`);
  await page.getByLabel('Your email address').fill('a11y@example.net');
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.waitForSelector('[data-subscribe-answer]');
  const [first] = await sendConfirmationsToArray(site.db, 'http://status.example.test');
  await page.goto(site.url + first.confirm);
  failures.push(...(await auditLoadedPage(page, 'GET /subscriptions/confirm')));
  await page.getByRole('button', { name: 'Confirm the subscription' }).click();
  await page.waitForSelector('[data-confirmed]');
  failures.push(...(await auditLoadedPage(page, 'POST /subscriptions/confirm')));
  await page.goto(site.url + first.manage);
  assert.equal(await page.locator('[data-follow]').count(), 2);
  failures.push(...(await auditLoadedPage(page, 'GET /subscriptions/manage')));
  await page.goto(site.url + first.unsubscribe);
  failures.push(...(await auditLoadedPage(page, 'GET /subscriptions/unsubscribe')));
  await page.getByRole('button', { name: 'Unsubscribe and delete my address' }).click();
  await page.waitForSelector('[data-deleted]');
  failures.push(...(await auditLoadedPage(page, 'POST /subscriptions/unsubscribe')));
  // The form sent back with what was wrong (an address the browser accepts and we cannot send to), and the answer
  // once this client is over its hourly limit.
  await page.goto(`${site.url}/subscribe`);
  await page.getByLabel('Your email address').fill('someone@localhost');
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.waitForSelector('[data-subscribe-errors]');
  failures.push(...(await auditLoadedPage(page, 'POST /subscribe (invalid)')));
  // Ten requests an hour per client: the eleventh at the latest is the limited answer.
  let status = 0;
  for (let i = 0; i < 11 && status !== 429; i++) {
    await page.goto(`${site.url}/subscribe`);
    await page.getByLabel('Your email address').fill('limit@example.net');
    const answer = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    status = (await answer).status();
    await page.waitForSelector('[data-subscribe-answer]');
  }
  assert.equal(status, 429);
  failures.push(...(await auditLoadedPage(page, 'POST /subscribe (limited)')));
  await page.close();
  assert.deepEqual(failures, []);
});
