// /task/2733 shows every line of the seed page in the seed's order, its plan as a timeline, and unknown ids get 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { visibleText, assertInOrder } from '../support/html-text.ts';
import { insertTask } from '../support/task-rows.ts';

let site: SiteServer;
before(async () => {
  site = await startSiteServer({ now: '2026-01-15T12:00:00.000Z' });
});
after(async () => {
  await site.close();
});

/** The seed as a reader sees it: bullets ("•", "*", "**") are list markers, not text. */
function seedLines(): string[] {
  return readFileSync(new URL('../support/FS2733.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) =>
      l
        .trim()
        .replace(/^(•|\*\*|\*)\s*/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((l) => l.length > 0);
}

test('every seed line of FS#2733 appears on /task/2733, in order', async () => {
  const res = await site.get('/task/2733');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const lines = seedLines();
  assert.ok(lines.length > 40, 'the seed file was read');
  assert.ok(lines.includes('Change of the internal routing of mails (only headers affected)'), 'nested "** X" lines are compared as "X"');
  assertInOrder(visibleText(await res.text()), lines);
});

test('the task page shows each field where the seed has it', async () => {
  const html = await (await site.get('/task/2733')).text();
  assert.match(html, /<dd data-field="status">Closed<\/dd>/);
  assert.match(html, /<dd data-field="type">Upgrade<\/dd>/);
  assert.match(html, /<dd data-field="category">All Services → Email<\/dd>/);
  assert.match(html, /data-field="percent">[\s\S]*?100%/);
  assert.match(html, /<a href="\/section\/email" data-field="section">Email<\/a>/);
  assert.match(html, /<h1>FS#2733 - Reworking \/ Scaling mailsystem inbound<\/h1>/);
  // Staff Markdown arrives as sanitized HTML and is inserted as HTML: the nested list stays a list.
  assert.match(html, /<ul>\s*<li>Change of the internal routing of mails \(only headers affected\)<\/li>/);
  const text = visibleText(html);
  assertInOrder(text, ['Closed by Admin', 'Wednesday, 10 November 2021, 16:09 GMT', 'Reason for closing: Finished']);
  assertInOrder(text, [
    'Tuesday, 12 October 2021, 10:40 GMT',
    'Wednesday, 13 October 2021, 14:40 GMT',
    'Wednesday, 10 November 2021, 16:09 GMT',
  ]);
  assert.match(html, /<link rel="alternate" type="application\/atom\+xml" href="\/section\/email\/feed.atom"/);
});

test('the deployment plan shows three phases, all done, and no "now" marker once the plan is over', async () => {
  const html = await (await site.get('/task/2733')).text();
  const plan = /<figure class="plan"[\s\S]*?<\/figure>/.exec(html)?.[0] ?? '';
  const states = [...plan.matchAll(/<li class="phase p-(\w+)" data-state="(\w+)"/g)].map((m) => m[2]);
  assert.deepEqual(states, ['done', 'done', 'done']);
  assertInOrder(visibleText(plan), [
    'done development and test until 12 October 2021',
    'done deployment and parallel service new/old 13 October 2021 – 20 October 2021',
    'done deactivation of old inbound mailsystem 21 October 2021',
  ]);
  assert.doesNotMatch(plan, /data-now/);
});

test('a running plan marks its phases done / running / upcoming and shows "now" on the axis', async () => {
  const id = insertTask(site.db, {
    summary: 'Move mailboxes to new storage',
    type: 'Maintenance',
    openedAt: '2026-01-10T08:00:00.000Z',
    phases: [
      { title: 'prepare', startsAt: null, endsAt: '2026-01-12T23:59:59.999Z' },
      { title: 'migrate', startsAt: '2026-01-13T00:00:00.000Z', endsAt: '2026-01-20T23:59:59.999Z' },
      { title: 'clean up', startsAt: '2026-01-21T00:00:00.000Z', endsAt: '2026-01-21T23:59:59.999Z' },
    ],
  });
  site.changes.bump();
  const html = await (await site.get(`/task/${id}`)).text();
  const states = [...html.matchAll(/<li class="phase p-\w+" data-state="(\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(states, ['done', 'running', 'upcoming']);
  assert.match(
    html,
    /data-now><span class="tick" style="--at:(\d+(\.\d+)?)%" aria-hidden="true"><\/span><span class="now-label">now · Thursday, 15 January 2026, 12:00 GMT<\/span>/,
  );
  const at = Number(/--at:([\d.]+)%/.exec(html)?.[1]);
  assert.ok(at > 30 && at < 70, `now sits inside the migrate phase (${at}%)`);
});

test('/FS2733 redirects permanently to /task/2733', async () => {
  const res = await site.get('/FS2733');
  assert.equal(res.status, 301);
  assert.equal(res.headers.get('location'), '/task/2733');
});

test('an unknown task and a non-numeric id answer the 404 page, never a 500', async () => {
  for (const path of ['/task/999999', '/task/abc', '/task/2733abc', '/task/-1', '/task/1e3', '/FSabc', '/task/%E0%A4%A']) {
    const res = await site.get(path);
    assert.equal(res.status, 404, path);
    const html = await res.text();
    assert.match(html, /<h1>Not found<\/h1>/, path);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
  }
});
