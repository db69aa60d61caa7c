// The staff history redaction form: admins only, a confirmation page per entry, no JavaScript, CSRF, 404 for unknown entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';
import { updateTask } from '#server/services/tasks/updateTask.ts';

const SECRET = 'p4ssw0rd-in-the-details';

/** FS#2733 gets a secret pasted into its details and edited out again, by the admin. */
async function setup() {
  const h = makeStaffHarness();
  const admin = await h.addUser('alice', 'admin', undefined, 'Alice Admin');
  await h.addUser('bob', 'staff');
  const before = (h.db.prepare('SELECT details_md FROM tasks WHERE id = 2733').get() as { details_md: string }).details_md;
  const actor = { userId: admin.id, name: 'alice' };
  updateTask({ ctx: h.ctx, actor, id: 2733, input: { details: `${before}\n\n${SECRET}` } });
  h.advance(60_000);
  updateTask({ ctx: h.ctx, actor, id: 2733, input: { details: before } });
  const [pasted, removed] = (
    h.db.prepare(`SELECT id FROM task_history WHERE task_id = 2733 AND field = 'details' ORDER BY id`).all() as { id: number }[]
  ).map((r) => r.id);
  return { h, pasted, removed };
}

test('admins see a Redact link per entry; the confirmation page names what goes and offers the entry that removed it', async () => {
  const { h, pasted, removed } = await setup();
  const alice = h.browser();
  await alice.login('alice');
  const page = await alice.get('/staff/tasks/2733');
  assert.match(page.text, /<th>Redact<\/th>/);
  assert.ok(page.text.includes(`href="/staff/tasks/2733/history/${pasted}/redact"`));
  const confirm = await alice.get(`/staff/tasks/2733/history/${pasted}/redact`);
  assert.equal(confirm.status, 200);
  const text = visibleText(confirm.text);
  assert.ok(text.includes(SECRET), 'the values about to be wiped are shown');
  assert.match(text, /The task's current details is not changed/);
  assert.ok(confirm.text.includes(`href="/staff/tasks/2733/history/${removed}/redact"`), 'the edit that removed it holds it too');
  assert.match(confirm.text, /<form method="post" action="\/staff\/tasks\/2733\/history\/\d+\/redact"><input type="hidden" name="_csrf"/);

  assert.equal((await alice.post(`/staff/tasks/2733/history/${pasted}/redact`, {}, { csrf: 'forged' })).status, 403);
  const done = await alice.post(`/staff/tasks/2733/history/${pasted}/redact`, {});
  assert.equal(done.status, 303);
  const after = await alice.get(done.location!);
  assert.match(visibleText(after.text), /History entry redacted\./);
  assert.ok(after.text.includes(`<tr id="history-${pasted}">`));
  assert.match(
    after.text,
    new RegExp(
      `<tr id="history-${pasted}">[\\s\\S]*?<td colspan="2"><em>Redacted by Alice Admin at 2026-01-15 12:01 \\(UTC\\)</em></td><td></td></tr>`,
    ),
    'the redacted row says who and when and offers no second redaction',
  );
  const again = await alice.get(`/staff/tasks/2733/history/${pasted}/redact`);
  assert.match(visibleText(again.text), /This entry is redacted already\./);
  assert.ok(!again.text.includes('<button type="submit">Redact'), 'no form for a redacted entry');
  // Posting again (a second tab, a double click) is harmless.
  assert.equal((await alice.post(`/staff/tasks/2733/history/${pasted}/redact`, {})).status, 303);
  assert.equal((h.db.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'task.redact'`).get() as { n: number }).n, 1);

  const missing = await alice.get('/staff/tasks/2733/history/999999/redact');
  assert.equal(missing.status, 404);
  assert.match(visibleText(missing.text), /FS#2733 has no history entry 999999/);
  assert.equal((await alice.post('/staff/tasks/2733/history/999999/redact', {})).status, 404);
});

test('staff see no Redact column and are refused the form and the post', async () => {
  const { h, pasted } = await setup();
  const bob = h.browser();
  await bob.login('bob');
  const page = await bob.get('/staff/tasks/2733');
  assert.equal(page.status, 200);
  assert.ok(!page.text.includes('/redact'), 'no redaction links for staff');
  assert.ok(page.text.includes(SECRET), 'staff still read the history as it is');
  const form = await bob.get(`/staff/tasks/2733/history/${pasted}/redact`);
  assert.equal(form.status, 403);
  assert.match(visibleText(form.text), /Only admins may redact task history/);
  assert.equal((await bob.post(`/staff/tasks/2733/history/${pasted}/redact`, {})).status, 403);
  const row = h.db.prepare('SELECT new_value, redacted_at FROM task_history WHERE id = ?').get(pasted) as {
    new_value: string;
    redacted_at: string | null;
  };
  assert.ok(row.new_value.includes(SECRET));
  assert.equal(row.redacted_at, null);
});
