// Under a busy page (FS#2733 + 200 tasks) the overview stays within 50 KB of HTML+CSS, with no script, and lists what matters first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { addBenchTasks } from '../support/busy-status.ts';
import { visibleText, assertInOrder } from '../support/html-text.ts';

const NOW = '2026-01-15T12:00:00.000Z';
let site: SiteServer;
before(async () => {
  site = await startSiteServer({ now: NOW });
  addBenchTasks(site.db, new Date(NOW));
  site.changes.bump();
});
after(async () => {
  await site.close();
});

test('the overview with 201 tasks weighs at most 50 KB with its CSS and still links to all of them', async () => {
  const html = await (await site.get('/')).text();
  assert.doesNotMatch(html, /<script/i);
  let bytes = Buffer.byteLength(html);
  for (const [, href] of html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g))
    bytes += (await (await site.get(href)).arrayBuffer()).byteLength;
  assert.ok(bytes <= 50 * 1024, `overview HTML+CSS is ${bytes} bytes`);
  assertInOrder(visibleText(html), [
    'Current issues',
    ': slow responses',
    'All 10 tasks',
    'Running work',
    'All 40 tasks',
    'Upcoming work',
    'All 30 tasks',
    'Recently closed',
  ]);
  assert.match(html, /<a href="\/tasks\?show=open">All 10 tasks<\/a>/);
});

test('the task list pages through all 201 tasks', async () => {
  const ids = new Set<number>();
  for (let page = 1; page <= 5; page++) {
    const html = await (await site.get(`/tasks?page=${page}`)).text();
    for (const m of html.matchAll(/<tr data-task="(\d+)">/g)) ids.add(Number(m[1]));
  }
  assert.equal(ids.size, 201);
  assert.ok(ids.has(2733));
});
