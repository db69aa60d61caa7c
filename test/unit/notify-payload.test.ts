// The outbox payload builder (issue 14): subject, HTML and text from the page's sanitized content, everything else
// escaped; and when a section's state change is announced (the debounce rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyPayload } from '#data/contracts/notify.ts';
import { renderMarkdown } from '#server/domain/markdown.ts';
import { oneLine, sectionStatePayload, taskPayload, type NotifyTask } from '#server/domain/notify-payload.ts';
import { htmlToText } from '#server/domain/html.ts';
import { SECTION_STATE_DEBOUNCE_MS, shouldAnnounce } from '#server/domain/notify-debounce.ts';

const URL_BASE = 'https://status.example.net';
const task: NotifyTask = {
  id: 2733,
  summary: 'Rework of the inbound mail system',
  status: 'In progress',
  percent: 40,
  closed: false,
  section: { slug: 'email', name: 'Email' },
};

test('a comment: subject, link, task and section, HTML is the stored sanitized body, text its plain rendering', () => {
  const bodyHtml = renderMarkdown('Phase **two** starts.\n\n- drain the old MX\n- see [the plan](https://example.org/plan?a=1&b=2)');
  const p = taskPayload(URL_BASE, task, { kind: 'comment', author: 'Alice Admin', bodyHtml });
  NotifyPayload.parse(p);
  assert.equal(p.subject, 'FS#2733 Rework of the inbound mail system: new comment');
  assert.equal(p.url, 'https://status.example.net/task/2733');
  assert.deepEqual(p.task, { id: 2733, summary: 'Rework of the inbound mail system', status: 'In progress', percent: 40, closed: false });
  assert.deepEqual(p.section, { slug: 'email', name: 'Email' });
  assert.deepEqual(p.changes, []);
  assert.ok(p.html.includes(bodyHtml), 'the page’s sanitized HTML, unchanged');
  assert.ok(p.html.includes('href="https://status.example.net/task/2733"'));
  assert.match(
    p.text,
    /^FS#2733 Rework of the inbound mail system\n\nAlice Admin wrote:\n\nPhase two starts\.\n\n- drain the old MX\n- see the plan \(https:\/\/example\.org\/plan\?a=1&b=2\)\n/,
  );
  assert.ok(p.text.includes('Status: In progress · 40% complete · Section: Email'));
  assert.ok(p.text.trimEnd().endsWith('https://status.example.net/task/2733'));
  assert.ok(!/<[a-z]/i.test(p.text), 'no tags in the text part');
});

test('a summary, author or reason with markup is escaped in the HTML and kept literally in text and subject', () => {
  const evil = { ...task, summary: '<script>alert(1)</script> & "co"' };
  const p = taskPayload(URL_BASE, evil, { kind: 'task-closed', reason: '<b>Finished</b>' });
  assert.ok(!p.html.includes('<script>'), p.html);
  assert.ok(!p.html.includes('<b>'), p.html);
  assert.ok(p.html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;'));
  assert.ok(p.html.includes('Reason for closing: &lt;b&gt;Finished&lt;/b&gt;'));
  assert.equal(p.subject, 'FS#2733 <script>alert(1)</script> & "co": closed (<b>Finished</b>)');
  assert.ok(p.text.includes('Reason for closing: <b>Finished</b>'));
  const opened = taskPayload(URL_BASE, evil, { kind: 'task-opened', type: 'Incident', by: '<i>Bob</i>', detailsHtml: '<p>x</p>' });
  assert.ok(opened.html.includes('New Incident task, opened by &lt;i&gt;Bob&lt;/i&gt;.'));
  assert.ok(!opened.html.includes('<i>'));
});

test('task changes are listed in words, from → to, and name the subject', () => {
  const p = taskPayload(URL_BASE, task, {
    kind: 'task-changed',
    changes: [
      { field: 'status', from: 'New', to: 'In progress' },
      { field: 'percent', from: '0', to: '40' },
      { field: 'category', from: 'All Services → Email', to: 'All Services → <DNS>' },
    ],
  });
  assert.equal(p.subject, 'FS#2733 Rework of the inbound mail system: status, percent complete and category changed');
  assert.ok(
    p.text.includes('- status: New → In progress\n- percent complete: 0% → 40%\n- category: All Services → Email → All Services → <DNS>'),
  );
  assert.ok(p.html.includes('<li>category: All Services → Email → All Services → &lt;DNS&gt;</li>'));
  assert.equal(p.changes.length, 3);
});

test('a closed task reads as Closed; plan, transition and reopen payloads', () => {
  const closed = taskPayload(URL_BASE, { ...task, closed: true, percent: 100 }, { kind: 'task-reopened' });
  assert.equal(closed.task?.closed, true);
  assert.ok(closed.text.includes('Status: Closed · 100% complete'));
  const plan = taskPayload(URL_BASE, task, {
    kind: 'phases-changed',
    phases: [{ title: 'Switch <MX>', startsAt: '2026-03-01T10:00:00.000Z', endsAt: null }],
  });
  assert.equal(plan.subject, 'FS#2733 Rework of the inbound mail system: deployment plan changed');
  assert.ok(plan.text.includes('- Switch <MX>: 2026-03-01 10:00 UTC – open'));
  assert.ok(plan.html.includes('Switch &lt;MX&gt;'));
  const tr = taskPayload(URL_BASE, task, {
    kind: 'phase-transition',
    bodyHtml: '<p>Phase <strong>one</strong> started.</p>',
    changes: [{ field: 'status', from: 'Planned', to: 'In progress' }],
  });
  assert.ok(tr.html.includes('<p>Phase <strong>one</strong> started.</p>'));
  assert.ok(tr.text.includes('Phase one started.\n\n- status: Planned → In progress'));
});

test('a subject is one line of at most 300 characters', () => {
  const p = taskPayload(URL_BASE, { ...task, summary: `a\r\nBcc: x@example.org\t${'y'.repeat(400)}` }, { kind: 'task-reopened' });
  assert.ok(!/[\r\n\t]/.test(p.subject));
  assert.ok(p.subject.length <= 300);
  assert.equal(oneLine('a\u2028b'), 'a b');
  NotifyPayload.parse(p);
});

test('htmlToText decodes entities once and keeps line structure', () => {
  assert.equal(htmlToText('<p>a &amp;lt; b &lt; c &#39;d&#39;</p><p>e<br>f</p>'), "a &lt; b < c 'd'\n\ne\nf");
  assert.equal(htmlToText('<pre><code>x &gt; 1\n</code></pre><hr><ol><li>one</li></ol>'), 'x > 1\n\n----\n\n- one');
});

test('a section state payload: headline, from → to, reason escaped, the section link', () => {
  const p = sectionStatePayload(
    URL_BASE,
    { slug: 'email', name: 'Email' },
    { from: 'operational', to: 'issues', reason: 'delivery <slow>' },
  );
  NotifyPayload.parse(p);
  assert.equal(p.subject, 'Email: active issues or failures');
  assert.equal(p.url, 'https://status.example.net/section/email');
  assert.equal(p.task, null);
  assert.deepEqual(p.changes, [{ field: 'state', from: 'operational', to: 'issues' }]);
  assert.ok(p.html.includes('delivery &lt;slow&gt;'));
  assert.ok(p.text.includes('state: operational (normal work for all services) → issues (active issues or failures)\ndelivery <slow>'));
});

test('debounce rule: a baseline is no news, automatic changes wait for the window, deliberate ones do not', () => {
  const t0 = new Date('2026-05-01T12:00:00.000Z');
  const later = (ms: number) => new Date(t0.getTime() + ms);
  const announced = { state: 'issues' as const, announcedAt: t0.toISOString() };
  assert.equal(shouldAnnounce(undefined, 'issues', t0, false), false, 'first state: a baseline');
  assert.equal(shouldAnnounce(undefined, 'issues', t0, true), true, 'an override with nothing announced before');
  assert.equal(shouldAnnounce(announced, 'issues', later(SECTION_STATE_DEBOUNCE_MS), false), false, 'same state: no news');
  assert.equal(shouldAnnounce(announced, 'operational', later(SECTION_STATE_DEBOUNCE_MS - 1), false), false);
  assert.equal(shouldAnnounce(announced, 'operational', later(SECTION_STATE_DEBOUNCE_MS), false), true);
  assert.equal(shouldAnnounce(announced, 'operational', later(60_000), true), true, 'an override at once');
  assert.equal(shouldAnnounce({ state: 'issues', announcedAt: null }, 'operational', t0, false), true, 'an open window');
});
