// /staff/notify and /api/v1/notify (issue 14): staff see the subscriber mail outbox (counts, latest failures with the
// relay's words escaped), the disabled subscribers with their addresses, and enable one again with session + CSRF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedOutbox, XSS } from '../support/notify-subscribers.ts';
import { json, makeHarness } from './api-harness.ts';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

test('the page shows counts, failures and disabled subscribers, escaped; enabling needs the CSRF token', async () => {
  const h = makeStaffHarness();
  const { gone } = seedOutbox(h.db);
  await h.addUser('sam', 'staff');
  const anonymous = h.browser();
  assert.equal((await anonymous.get('/staff/notify')).status, 303, 'staff only');
  const b = h.browser();
  await b.login('sam');
  const page = await b.get('/staff/notify');
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.text, /<script>alert/);
  assert.match(page.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  const text = visibleText(page.text);
  assert.ok(text.includes('No relay is configured'), 'TIDINGS_NOTIFY_SMTP_URL unset is said');
  assert.match(text, /Queued\s+1 \(1 waiting to be tried again\)/);
  assert.match(text, /Sent\s+1/);
  assert.match(text, /Failed\s+1/);
  assert.ok(text.includes('RCPT TO: 451 4.2.0 mailbox busy'));
  assert.ok(text.includes(`RCPT TO: 550 5.1.1 ${XSS} unknown`));
  assert.ok(text.includes(`"${XSS}"@example.net`), 'the disabled address, as text');
  // Without the token: refused, nothing changed.
  const forged = await b.post(`/staff/notify/subscribers/${gone}/enable`, {}, { csrf: 'wrong' });
  assert.equal(forged.status, 403);
  assert.ok(h.db.prepare('SELECT disabled_at FROM subscribers WHERE id = ?').get(gone) as { disabled_at: string });
  const done = await b.post(`/staff/notify/subscribers/${gone}/enable`, {});
  assert.equal(done.status, 303);
  assert.equal(done.location, '/staff/notify?done=subscriber-enabled');
  assert.deepEqual(h.db.prepare('SELECT failures, disabled_at FROM subscribers WHERE id = ?').get(gone), {
    failures: 0,
    disabled_at: null,
  });
  const after = visibleText((await b.get('/staff/notify?done=subscriber-enabled')).text);
  assert.ok(after.includes('Subscriber enabled'));
  assert.ok(after.includes('No subscriber is disabled.'));
  // Again: not disabled any more, a 409 shown on the page.
  const again = await b.post(`/staff/notify/subscribers/${gone}/enable`, {});
  assert.equal(again.status, 409);
  assert.ok(visibleText(again.text).includes(`Subscriber ${gone} is not disabled.`));
  const audit = h.db.prepare("SELECT actor, target FROM audit_log WHERE action = 'notify.subscriber.enable'").all();
  assert.deepEqual(audit, [{ actor: 'sam', target: String(gone) }]);
});

test('GET /api/v1/notify/outbox and POST /api/v1/notify/subscribers/:id/enable: staff session, CSRF, problems', async () => {
  const h = makeHarness();
  const { gone } = seedOutbox(h.db);
  assert.equal((await h.request('GET', '/api/v1/notify/outbox')).status, 401);
  await h.addUser('sam', 'staff');
  const session = await h.login('sam');
  const res = await h.request('GET', '/api/v1/notify/outbox', { session });
  assert.equal(res.status, 200);
  const body = await json<{
    relay: boolean;
    counts: Record<string, number | null>;
    failures: { email: string; error: string }[];
    disabled: { id: number; email: string }[];
  }>(res);
  assert.equal(body.relay, false);
  assert.deepEqual(
    { queued: body.counts.queued, retrying: body.counts.retrying, sent: body.counts.sent, failed: body.counts.failed },
    { queued: 1, retrying: 1, sent: 1, failed: 1 },
  );
  assert.deepEqual(
    body.disabled.map((d) => d.email),
    [`"${XSS}"@example.net`],
  );
  assert.equal(body.failures.length, 2);
  assert.equal((await h.request('POST', `/api/v1/notify/subscribers/${gone}/enable`, { session, csrf: false })).status, 403);
  assert.equal((await h.request('POST', '/api/v1/notify/subscribers/999/enable', { session })).status, 404);
  assert.equal((await h.request('POST', '/api/v1/notify/subscribers/x/enable', { session })).status, 400);
  const ok = await h.request('POST', `/api/v1/notify/subscribers/${gone}/enable`, { session });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { id: gone, email: `"${XSS}"@example.net` });
  assert.equal((await h.request('POST', `/api/v1/notify/subscribers/${gone}/enable`, { session })).status, 409);
});
