// /staff/mail/domains/:name/switches without JavaScript: schedule at a time or with a task phase, cancel, switch now;
// errors shown on the page with the typed values kept; session and CSRF token required.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';
import { insertTask } from '../support/task-rows.ts';

const T0 = '2026-01-15T12:00:00.000Z';
const PAGE = '/staff/mail/domains/example.com/switches';

async function loggedIn() {
  const h = makeStaffHarness({ start: T0 });
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  assert.equal(
    (await b.post('/staff/mail/domains', { form: 'domain', name: 'example.com', mode: 'legacy', legacyHost: 'mx.old.test' })).status,
    303,
  );
  assert.equal((await b.post('/staff/mail/domains', { form: 'domain', name: 'new.test', mode: 'active' })).status, 303);
  const taskId = insertTask(h.db, {
    summary: 'Inbound <mail> rework',
    openedAt: '2026-01-10T00:00:00.000Z',
    phases: [
      { title: 'deployment', startsAt: '2026-01-10T00:00:00.000Z', endsAt: null },
      { title: 'parallel service', startsAt: '2026-01-20T00:00:00.000Z', endsAt: null },
    ],
  });
  const phaseId = (h.db.prepare("SELECT id FROM phases WHERE title = 'parallel service'").get() as { id: number }).id;
  const pending = () =>
    h.db.prepare("SELECT mode, effective_at, task_id FROM mail_domain_switches WHERE state = 'pending' ORDER BY id").all();
  return { h, b, taskId, phaseId, pending };
}

test('staff schedule switches at a time and with a phase, cancel one, and switch now; each audited', async () => {
  const { h, b, taskId, phaseId, pending } = await loggedIn();
  assert.match((await b.get('/staff/mail')).text, /href="\/staff\/mail\/domains\/example\.com\/switches">Switches of example\.com</);
  let r = await b.get(PAGE);
  assert.equal(r.status, 200);
  assert.match(visibleText(r.text), /Mode now: legacy \(the old system delivers\) ?; old MX mx\.old\.test:25/);
  assert.match(r.text, /<option value="\d+:\d+">FS#\d+ Inbound &lt;mail&gt; rework: parallel service \(2026-01-20 00:00\)<\/option>/);
  assert.doesNotMatch(r.text, /deployment \(/, 'a phase that has started is not offered');

  r = await b.post(PAGE, { form: 'schedule', mode: 'shadow', at: '2026-01-16T09:30', phase: '' });
  assert.equal(r.status, 303, visibleText(r.text).slice(0, 400));
  assert.equal(r.location, `${PAGE}?done=switch-scheduled`);
  r = await b.post(PAGE, { form: 'schedule', mode: 'active', at: '', phase: `${taskId}:${phaseId}` });
  assert.equal(r.status, 303, visibleText(r.text).slice(0, 400));
  assert.deepEqual(pending(), [
    { mode: 'shadow', effective_at: Date.parse('2026-01-16T09:30:00Z'), task_id: null },
    { mode: 'active', effective_at: Date.parse('2026-01-20T00:00:00Z'), task_id: taskId },
  ]);
  const text = visibleText((await b.get(`${PAGE}?done=switch-scheduled`)).text);
  assert.match(text, /Switch scheduled/);
  assert.match(text, /2026-01-16 09:30 shadow \(parallel operation\) a time sam pending/);
  assert.match(text, /2026-01-20 00:00 active \(the new system delivers\) FS#\d+ , phase “parallel service” sam pending/);
  assert.match(visibleText((await b.get('/staff/mail')).text), /Switches of example\.com \(2 pending\)/);

  const [first] = h.db.prepare('SELECT id FROM mail_domain_switches ORDER BY id').all() as { id: number }[];
  r = await b.post(`${PAGE}/${first.id}/cancel`, {});
  assert.equal(r.status, 303);
  assert.match(visibleText((await b.get(PAGE)).text), /cancelled by staff 2026-01-15 12:00/);
  r = await b.post('/staff/mail/domains/example.com/switch-now', { mode: 'shadow' });
  assert.equal(r.status, 303);
  assert.deepEqual(pending(), []);
  assert.equal(h.db.prepare("SELECT mode FROM mail_domains WHERE name = 'example.com'").pluck().get(), 'shadow');
  const audit = h.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'mail.domain.switch.%' ORDER BY id").all();
  assert.deepEqual(audit, [
    { actor: 'sam', action: 'mail.domain.switch.schedule' },
    { actor: 'sam', action: 'mail.domain.switch.schedule' },
    { actor: 'sam', action: 'mail.domain.switch.cancel' },
    { actor: 'sam', action: 'mail.domain.switch.now' },
  ]);
});

test('bad input comes back on the page with a message and the typed values; nothing is written', async () => {
  const { b, taskId, phaseId, pending } = await loggedIn();
  let r = await b.post(PAGE, { form: 'schedule', mode: 'shadow', at: '2026-01-16T09:30', phase: `${taskId}:${phaseId}` });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /When ?: give a time or a phase, not both/);
  assert.match(r.text, /id="s-at" name="at" value="2026-01-16T09:30"/);
  r = await b.post(PAGE, { form: 'schedule', mode: 'active', at: '2026-01-14T09:30', phase: '' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /use switch now instead/);
  r = await b.post(PAGE, { form: 'schedule', mode: 'active', at: '', phase: `${taskId}:999999` });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Phase ?: the plan has changed since/);
  r = await b.post('/staff/mail/domains/new.test/switches', { form: 'schedule', mode: 'shadow', at: '2026-01-16T09:30', phase: '' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /needs a legacyHost first/);
  r = await b.post('/staff/mail/domains/new.test/switch-now', { mode: 'sideways' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Mode ?: choose legacy, shadow or active/);
  assert.equal((await b.get('/staff/mail/domains/nowhere.test/switches')).status, 404);
  assert.deepEqual(pending(), []);
});

test('logged out: no page and no write; without the CSRF token: no write', async () => {
  const { h, b, pending } = await loggedIn();
  const fields = { form: 'schedule', mode: 'shadow', at: '2026-01-16T09:30', phase: '' };
  assert.notEqual((await h.browser().get(PAGE)).status, 200);
  assert.notEqual((await h.browser().post(PAGE, fields, { csrf: false })).status, 303);
  assert.equal((await b.post(PAGE, fields, { csrf: 'wrong' })).status, 403);
  assert.equal((await b.post('/staff/mail/domains/example.com/switch-now', { mode: 'active' }, { csrf: false })).status, 403);
  assert.deepEqual(pending(), []);
  assert.equal(h.db.prepare("SELECT mode FROM mail_domains WHERE name = 'example.com'").pluck().get(), 'legacy');
});
