// /staff/mail/shadow without JavaScript (issue 13): the shadow report per domain (verdict counts with reasons), per
// address, and samples whose headers (from mail) are escaped; a GET form for domain and days, bad input shown as a 400
// page with the message; linked from /staff/mail; staff only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TelemetryEvent } from '#data/contracts/telemetry.ts';
import { hashNodeToken, issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { ingestBatch } from '#server/services/telemetry/ingestBatch.ts';
import { findNodeByTokenHash, type MxNode } from '#server/store/mail.ts';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

const XSS_FROM = '"><img src=x onerror=alert(1)> <evil@x.test>';
const XSS_SUBJECT = '<script>alert(2)</script>';
const XSS_DATE = '<svg onload=alert(3)>';
const XSS_ID = '<a href="javascript:alert(4)">x</a>';

async function setup() {
  const h = makeStaffHarness();
  await h.addUser('sam', 'staff');
  const node = findNodeByTokenHash(
    h.db,
    hashNodeToken(issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' })),
  ) as MxNode;
  const at = h.clock().getTime() - 60_000;
  const sample = { from: XSS_FROM, subject: XSS_SUBJECT, date: XSS_DATE, messageId: XSS_ID };
  const verdicts = [
    { address: 'anna@example.com', verdict: 'quarantine', reason: 'spam', score: 12.5, sample },
    { address: 'anna@example.com', verdict: 'quarantine', reason: 'spam', score: 11, sample: { ...sample, subject: 'second' } },
    { address: 'anna@example.com', verdict: 'deliver', reason: 'clean', score: 0.5, sample: { ...sample, subject: null } },
    { address: 'info@example.com', verdict: 'reject', reason: 'unknown-user', score: null, sample: { ...sample, subject: 'who' } },
  ] as const;
  const events = verdicts.map(
    (v, i) =>
      ({ seq: i + 1, at: at + i, type: 'shadow-verdict', messageId: `q${i}`, verdict: { domain: 'example.com', ...v } }) as TelemetryEvent,
  );
  ingestBatch({ db: h.db, clock: h.clock, node, batch: { after: 0, events } });
  const b = h.browser();
  await b.login('sam');
  return { h, b };
}

test('the report shows counts per verdict and reason, per address, and samples with every header escaped', async () => {
  const { b } = await setup();
  const page = await b.get('/staff/mail/shadow');
  assert.equal(page.status, 200);
  // Nothing from mail comes out as markup.
  assert.doesNotMatch(page.text, /<script>alert/);
  assert.doesNotMatch(page.text, /<img src=x/);
  assert.doesNotMatch(page.text, /<svg onload/);
  assert.doesNotMatch(page.text, /<a href="javascript/);
  assert.match(page.text, /&lt;script&gt;alert\(2\)&lt;\/script&gt;/);
  assert.match(page.text, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt; &lt;evil@x\.test&gt;/);
  const text = visibleText(page.text);
  for (const s of [XSS_FROM, XSS_SUBJECT, XSS_DATE, XSS_ID]) assert.ok(text.includes(s), `${s} shows as text`);
  // What the page is.
  assert.ok(
    text.includes('What the new mail system would have done with mail to domains in shadow mode; the old system delivered it.'),
    text,
  );
  // The domain's table: a row per verdict with its count and reasons.
  assert.ok(text.includes('example.com: what the new system would have done with 4 recipient copies'), text);
  assert.ok(text.includes('would deliver 1 clean 1'), text);
  assert.ok(text.includes('would tag 0 none'), text);
  assert.ok(text.includes('would quarantine 2 spam 2'), text);
  assert.ok(text.includes('would reject 1 unknown-user 1'), text);
  assert.ok(text.includes('would tempfail (451) 0 none'), text);
  // Per address: deliver, tag, quarantine, reject, tempfail, reasons.
  assert.ok(text.includes('anna@example.com 1 0 2 0 0 deliver clean 1, quarantine spam 2'), text);
  assert.ok(text.includes('info@example.com 0 0 0 1 0 reject unknown-user 1'), text);
  // Samples, newest first, score and verdict with reason; a missing header says so.
  assert.equal((page.text.match(/<time datetime=/g) ?? []).length, 4);
  assert.ok(text.indexOf('who') < text.indexOf('second'), 'newest first');
  assert.ok(text.includes('would quarantine (spam) 12.50'), text);
  assert.ok(text.includes('would reject (unknown-user) none'), text);
  // The form keeps the range it showed (the last 7 UTC days by default).
  assert.match(page.text, /name="from" value="2026-\d\d-\d\d"/);
});

test('the form narrows to a domain and days; bad input is a 400 page with the message; linked from /staff/mail', async () => {
  const { b, h } = await setup();
  const today = h.clock().toISOString().slice(0, 10);
  const other = await b.get('/staff/mail/shadow?domain=other.test&from=&to=');
  assert.equal(other.status, 200);
  assert.match(visibleText(other.text), /No shadow verdict from \S+ to \S+ for other\.test\./);
  const one = await b.get(`/staff/mail/shadow?domain=example.com&from=${today}&to=${today}`);
  assert.ok(visibleText(one.text).includes('4 recipient copies'));
  const backwards = await b.get(`/staff/mail/shadow?from=${today}&to=2020-01-01`);
  assert.equal(backwards.status, 400);
  assert.match(visibleText(backwards.text), /The range starts \(\S+\) after it ends \(2020-01-01\)/);
  const bad = await b.get('/staff/mail/shadow?from=<b>x</b>&domain=<i>');
  assert.equal(bad.status, 400);
  assert.doesNotMatch(bad.text, /<b>x<\/b>|<i>/);
  assert.match(visibleText(bad.text), /The query is not valid/);
  const mail = await b.get('/staff/mail');
  assert.match(mail.text, /<a href="\/staff\/mail\/shadow">Shadow report<\/a>/);
  // Staff only.
  const anon = h.browser();
  const r = await anon.get('/staff/mail/shadow');
  assert.equal(r.status, 303);
});
